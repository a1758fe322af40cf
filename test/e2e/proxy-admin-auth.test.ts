/**
 * `talos proxy` in front of a central server with admin authentication on (docs/admin-auth.md,
 * docs/proxy.md): callers' admin credentials pass through; a cached answer is never a hit for a
 * caller without the credential it was cached for; the proxy's own token opens the invalidation feed.
 */
import { hashAdminToken } from "@talos/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../support/cluster.js";
import { E2E_TIMEOUT_MS, fetchJson, stopAllTalos, type TalosProcess } from "../support/process.js";
import { startCentral, startProxyProcess, verifyVia, type Central } from "../support/proxy.js";

const OPS = "talos_at_e2e_ops_0123456789abcdefghijklmnop";
const APP = "talos_at_e2e_app_0123456789abcdefghijklmnop";
const SIDECAR = "talos_at_e2e_sidecar_0123456789abcdefghijkl";
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe("talos proxy: in front of an authenticated server", { timeout: E2E_TIMEOUT_MS * 2 }, () => {
  let central: Central;
  let proxy: TalosProcess;

  beforeAll(async () => {
    central = await startCentral({
      TALOS_CACHE_TTL: "10m",
      TALOS_SERVE_ADMIN_AUTH_MODE: "tokens",
      TALOS_SERVE_ADMIN_AUTH_TOKENS: JSON.stringify([
        { name: "ops", hash: hashAdminToken(OPS), permissions: ["admin"] },
        { name: "app", hash: hashAdminToken(APP), permissions: ["keys:verify"] },
        { name: "sidecar", hash: hashAdminToken(SIDECAR), permissions: ["keys:verify"] },
      ]),
    });
    // the proxy's own credential opens cacheInvalidations:stream (keys:verify)
    proxy = await startProxyProcess(["--upstream", central.server.apiUrl, "--cache-ttl", "10m"], { TALOS_PROXY_TALOS_AUTHORIZATION: `Bearer ${SIDECAR}` });
  });

  afterAll(async () => {
    await stopAllTalos();
    await central?.drop();
  });

  it("serves callers with a credential from the cache, and sends callers without one upstream to be refused", async () => {
    const issued = await fetchJson(`${central.server.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { actor_id: "proxy-auth" }, headers: bearer(OPS) });
    expect(issued.status, issued.text).toBe(201);
    const secret = issued.body.secret as string;

    const miss = await verifyVia(proxy.apiUrl, secret, bearer(APP));
    expect(miss.status).toBe(200);
    expect(miss.headers["ory-talos-cache"]).toBe("MISS");
    const hit = await verifyVia(proxy.apiUrl, secret, bearer(APP));
    expect(hit.headers["ory-talos-cache"]).toBe("HIT");
    expect(hit.json.is_valid).toBe(true);

    // the same key, warm in the cache, but no or a wrong admin credential: upstream answers 401
    for (const headers of [{}, bearer("talos_at_wrong_0123456789"), { authorization: `Bearer ${APP}x` }]) {
      const r = await verifyVia(proxy.apiUrl, secret, headers);
      expect(r.status).toBe(401);
      expect(r.headers["ory-talos-cache"]).toBe("MISS");
      expect(r.headers["www-authenticate"]).toMatch(/^Bearer realm="talos-admin"/);
    }
    // admin calls stream through with the caller's Authorization
    expect((await fetchJson(`${proxy.apiUrl}/v2alpha1/admin/issuedApiKeys`)).status).toBe(401);
    expect((await fetchJson(`${proxy.apiUrl}/v2alpha1/admin/issuedApiKeys`, { headers: bearer(OPS) })).status).toBe(200);
  });

  it("a revocation reaches the cache through the feed the proxy's own token opened", async () => {
    const issued = await fetchJson(`${central.server.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { actor_id: "proxy-auth" }, headers: bearer(OPS) });
    const secret = issued.body.secret as string;
    await verifyVia(proxy.apiUrl, secret, bearer(APP));
    expect((await verifyVia(proxy.apiUrl, secret, bearer(APP))).headers["ory-talos-cache"]).toBe("HIT");
    const revoked = await fetchJson(`${central.server.apiUrl}/v2alpha1/admin/issuedApiKeys/${issued.body.issued_api_key.key_id}:revoke`, { body: {}, headers: bearer(OPS) });
    expect(revoked.status, revoked.text).toBe(204);
    const took = await pollUntil(async () => (await verifyVia(proxy.apiUrl, secret, bearer(APP))).json?.is_valid === false, 5_000);
    expect(took, "the revocation did not reach the proxy's cache within 5 s").not.toBeNull();
  });
});
