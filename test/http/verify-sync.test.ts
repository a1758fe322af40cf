import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "@talos/core";
import { silentLogger } from "@talos/http";
import { createServer, type TalosServer } from "@talos/server";
import { TEST_ISSUER, TEST_SECRET } from "../support/harness.js";

/**
 * The warm hit answers without a promise (docs/architecture.md, the verify path): the verifier
 * returns a plain value when nothing had to wait, and a promise whenever a step does (the read on
 * a miss, a no-cache verify). The fast route relies on this to write the answer in the same turn.
 */
describe("verifier: a warm cache hit is answered synchronously", () => {
  let built: TalosServer;
  let secret: string;
  beforeAll(async () => {
    const { config } = loadConfig({ env: {}, overrides: { "db.dsn": "memory", "secrets.hmac.current": TEST_SECRET, "credentials.issuer": TEST_ISSUER } });
    built = await createServer(config, { logger: { ...silentLogger }, migrate: true });
    const res = await built.app("admin").request("/v2alpha1/admin/issuedApiKeys", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "sync", actor_id: "user-1" }),
    });
    secret = ((await res.json()) as { secret: string }).secret;
  });
  afterAll(async () => {
    await built?.close();
  });

  it("miss: a promise; then hit: a plain value; no-cache: a promise again; a bad checksum: plain", async () => {
    const { verifier } = built.deps;
    const miss = verifier.verify(secret, { clientIp: null, cacheMode: "default" });
    expect(miss).toBeInstanceOf(Promise);
    expect(await miss).toMatchObject({ isValid: true, cache: "MISS" });
    const hit = verifier.verify(secret, { clientIp: null, cacheMode: "default" });
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toMatchObject({ isValid: true, cache: "HIT" });
    expect(verifier.verify(secret, { clientIp: null, cacheMode: "no-cache" })).toBeInstanceOf(Promise);
    // the HMAC check comes before the cache: a forged checksum never reaches it
    const forged = `${secret.slice(0, -3)}${secret.endsWith("abc") ? "abd" : "abc"}`;
    const bad = verifier.verify(forged, { clientIp: null, cacheMode: "default" });
    expect(bad).not.toBeInstanceOf(Promise);
    expect(bad).toMatchObject({ isValid: false });
  });
});
