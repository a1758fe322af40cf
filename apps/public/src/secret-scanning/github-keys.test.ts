import { generateKeyPairSync, sign } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "@talos/http";
import { MIN_REFRESH_MS, githubKeySource, signatureValid } from "./github-keys.js";

const pair = () => {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { privateKey, pem: publicKey.export({ type: "spki", format: "pem" }).toString() };
};

describe("GitHub key source against a real HTTP server", () => {
  const a = pair();
  const b = pair();
  let doc: unknown = { public_keys: [{ key_identifier: "a", key: a.pem, is_current: true }] };
  let status = 200;
  let fetches = 0;
  let srv: http.Server;
  let url = "";
  beforeAll(async () => {
    srv = http.createServer((_req, res) => {
      fetches++;
      res.statusCode = status;
      res.end(JSON.stringify(doc));
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/keys`;
  });
  afterAll(() => new Promise<void>((r) => srv.close(() => r())));

  const cfg = () => ({ enabled: true, public_keys_url: url, public_keys: [] });

  it("fetches once, caches, refreshes on an unknown id at most every MIN_REFRESH_MS, and picks up a new key", async () => {
    let now = 1_000_000;
    const keys = githubKeySource(cfg(), silentLogger, () => now);
    fetches = 0;
    expect(await keys.get("a")).not.toBeNull();
    expect(await keys.get("a")).not.toBeNull();
    expect(fetches).toBe(1);
    // GitHub rotates: b is published; an unknown id inside the interval does not fetch
    doc = { public_keys: [{ key_identifier: "b", key: b.pem }, { key_identifier: "a", key: a.pem }] };
    now += 1000;
    expect(await keys.get("b")).toBeNull();
    expect(fetches).toBe(1);
    now += MIN_REFRESH_MS;
    expect(await keys.get("b")).not.toBeNull();
    expect(fetches).toBe(2);
    // a made-up id: one fetch, then none until the interval has passed
    now += MIN_REFRESH_MS;
    await Promise.all([keys.get("x"), keys.get("y"), keys.get("z")]);
    expect(fetches).toBe(3);
  });

  it("keeps the known keys when a refresh fails; with none known it is service_unavailable", async () => {
    let now = 5_000_000;
    doc = { public_keys: [{ key_identifier: "a", key: a.pem }] };
    status = 200;
    const keys = githubKeySource(cfg(), silentLogger, () => now);
    expect(await keys.get("a")).not.toBeNull();
    status = 500;
    now += MIN_REFRESH_MS;
    expect(await keys.get("unknown")).toBeNull();
    expect(await keys.get("a")).not.toBeNull();
    const empty = githubKeySource(cfg(), silentLogger, () => now);
    await expect(empty.get("a")).rejects.toMatchObject({ id: "service_unavailable" });
    status = 200;
  });

  it("skips entries that are not P-256 public keys", async () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    doc = { public_keys: [{ key_identifier: "ed", key: publicKey.export({ type: "spki", format: "pem" }).toString() }, { key_identifier: "a", key: a.pem }, { key_identifier: "junk", key: "x" }] };
    const keys = githubKeySource(cfg(), silentLogger, () => 9e9);
    expect(await keys.get("a")).not.toBeNull();
    expect(await keys.get("ed")).toBeNull();
    expect(await keys.get("junk")).toBeNull();
  });

  it("signatureValid: DER ECDSA over the exact bytes", async () => {
    const keys = githubKeySource({ enabled: true, public_keys_url: url, public_keys: [{ key_identifier: "a", key: a.pem }] }, silentLogger);
    const key = (await keys.get("a"))!;
    const body = Buffer.from('[{"token":"t","type":"x"}]');
    const sig = sign("sha256", body, { key: a.privateKey, dsaEncoding: "der" }).toString("base64");
    expect(signatureValid(key, body, sig)).toBe(true);
    expect(signatureValid(key, Buffer.from(`${body} `), sig)).toBe(false);
    expect(signatureValid(key, body, sign("sha256", body, { key: b.privateKey, dsaEncoding: "der" }).toString("base64"))).toBe(false);
    expect(signatureValid(key, body, "")).toBe(false);
    expect(signatureValid(key, body, "not base64!")).toBe(false);
    // IEEE P1363 (raw r||s) is not GitHub's encoding
    expect(signatureValid(key, body, sign("sha256", body, { key: a.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64"))).toBe(false);
  });
});
