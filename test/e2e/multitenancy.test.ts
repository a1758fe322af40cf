/**
 * Several networks in one real `talos serve` process on the embedded database
 * (docs/multitenancy.md): each request's Host picks the network, and nothing of one network is
 * visible from another (keys, lists, page tokens, imported-key ids, derived tokens, JWKS, quotas,
 * self-revoke). Unknown hosts get a 404 envelope; health and version answer on any host.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOT_FOUND_VERIFICATION, signingJwksUrl } from "../support/http-expect.js";
import { hostCall, hostClient, writeIn } from "../support/hosts.js";
import { metricValue } from "../support/cluster.js";
import { E2E_TIMEOUT_MS, fetchJson, startTalos, stopAllTalos, tempDir, type TalosProcess } from "../support/process.js";

const A = "0b9e7c1e-5a43-4f11-9a0e-3f3f0f6f4a01";
const B = "6c1a5b0e-1d2e-4c3f-8a4b-5c6d7e8f9a02";
const Q1 = "1d0c9b8a-7f6e-4d5c-9b4a-3f2e1d0c9b03";
const Q2 = "2e1d0c9b-8a7f-4e6d-8c5b-4a3f2e1d0c04";
const ISSUED = "/v2alpha1/admin/issuedApiKeys";
const IMPORTED = "/v2alpha1/admin/importedApiKeys";
const JWKS = "/v2alpha1/derivedKeys/jwks.json";

/** The main file and one file per network, in a fresh directory. */
function multitenantFiles(dir: string, extraMain = ""): string {
  writeIn(dir, "a.yaml", `credentials:\n  issuer: https://a.test\n  derived_tokens:\n    jwt:\n      signing_keys:\n        urls: ["${signingJwksUrl("kid-a")}"]\nsecrets:\n  hmac:\n    current: network-a-hmac-secret-0123456789abcdef\n`);
  writeIn(dir, "b.yaml", `credentials:\n  issuer: https://b.test\n  api_keys:\n    prefix:\n      current: bbk\n  derived_tokens:\n    jwt:\n      signing_keys:\n        urls: ["${signingJwksUrl("kid-b")}"]\n`);
  writeIn(dir, "q.yaml", "quota:\n  api_keys_max: 2\n");
  return writeIn(
    dir,
    "talos.yaml",
    `multitenancy:\n  enabled: true\n  networks:\n` +
      `    - { hostname: a.test, id: ${A}, config_path: a.yaml }\n` +
      `    - { hostname: B.Test, id: ${B}, config_path: b.yaml }\n` +
      `    - { hostname: q1.test, id: ${Q1}, config_path: q.yaml }\n` +
      `    - { hostname: q2.test, id: ${Q2}, config_path: q.yaml }\n` +
      extraMain,
  );
}

const MT_ENV = {
  TALOS_SECRETS_HMAC_CURRENT: "main-hmac-secret-0123456789abcdef-0123",
  TALOS_CREDENTIALS_ISSUER: "https://main.test",
};

describe("multitenancy: networks chosen by host, isolated from each other", { timeout: E2E_TIMEOUT_MS }, () => {
  let t: TalosProcess;
  let trusting: TalosProcess;
  const a = () => hostClient(t.apiPort, "a.test");
  const b = () => hostClient(t.apiPort, "b.test:4420");

  beforeAll(async () => {
    const dir = tempDir("talos-mt-");
    const file = multitenantFiles(dir);
    const dirT = tempDir("talos-mt-trust-");
    const fileT = multitenantFiles(dirT, "serve:\n  http:\n    trust_forwarded_host: true\n");
    [t, trusting] = await Promise.all([
      startTalos({ args: ["serve", "all", "--config", file], env: { ...MT_ENV, TALOS_DB_DSN: `pglite://${dir}/db` }, startTimeoutMs: 170_000 }),
      startTalos({ args: ["serve", "all", "--config", fileT], env: { ...MT_ENV, TALOS_DB_DSN: "memory" }, startTimeoutMs: 170_000 }),
    ]);
  }, 180_000);
  afterAll(async () => {
    await stopAllTalos();
  });

  it("a key of network A verifies on A and is NOT_FOUND on B, like an unknown key", async () => {
    const { secret, keyId } = await a().issue();
    const onA = await a().verify(secret);
    expect(onA.status).toBe(200);
    expect(onA.body).toMatchObject({ is_valid: true, key_id: keyId, issuer: "https://a.test" });
    const onB = await b().verify(secret);
    expect(onB.status).toBe(200);
    expect(onB.body).toEqual(NOT_FOUND_VERIFICATION);
    // B's own keys carry B's prefix and issuer
    const own = await b().issue();
    expect(own.secret.startsWith("bbk_v1_")).toBe(true);
    expect((await b().verify(own.secret)).body).toMatchObject({ is_valid: true, issuer: "https://b.test" });
    expect((await a().verify(own.secret)).body).toEqual(NOT_FOUND_VERIFICATION);
  });

  it("get, update, rotate, revoke and list through B cannot see or touch A's keys", async () => {
    const actor = `mt-${randomUUID().slice(0, 8)}`;
    const { keyId, secret } = await a().issue({ actor_id: actor });
    expect((await b().get(`${ISSUED}/${keyId}`)).status).toBe(404);
    expect((await b().patch(`${ISSUED}/${keyId}`, { name: "stolen" })).status).toBe(404);
    expect((await b().post(`${ISSUED}/${keyId}:rotate`, {})).status).toBe(404);
    expect((await b().post(`${ISSUED}/${keyId}:revoke`, { reason: "REVOCATION_REASON_KEY_COMPROMISE" })).status).toBe(404);
    const filter = encodeURIComponent(`actor_id = "${actor}"`);
    expect((await b().get(`${ISSUED}?filter=${filter}`)).body.issued_api_keys).toEqual([]);
    expect((await a().get(`${ISSUED}?filter=${filter}`)).body.issued_api_keys.map((k: { key_id: string }) => k.key_id)).toEqual([keyId]);
    // self-revoke on B leaves A's key alone
    await hostCall(t.apiPort, "b.test", "POST", "/v2alpha1/apiKeys:selfRevoke", { credential: secret, reason: "REVOCATION_REASON_KEY_COMPROMISE" });
    const still = await a().get(`${ISSUED}/${keyId}`);
    expect(still.body).toMatchObject({ key_id: keyId, status: "KEY_STATUS_ACTIVE", name: "mt" });
    expect((await a().verify(secret)).body.is_valid).toBe(true);
  });

  it("the same raw key imported in both networks gets two ids, each verifying only at home", async () => {
    const raw = `shared-raw-key-${randomUUID()}`;
    const ia = await a().post(IMPORTED, { name: "imp", actor_id: "mt-imp", raw_key: raw });
    const ib = await b().post(IMPORTED, { name: "imp", actor_id: "mt-imp", raw_key: raw });
    expect([ia.status, ib.status]).toEqual([201, 201]);
    const idA = ia.body.key_id;
    const idB = ib.body.key_id;
    expect(idA).not.toBe(idB);
    expect((await a().verify(raw)).body.key_id).toBe(idA);
    expect((await b().verify(raw)).body.key_id).toBe(idB);
  });

  it("request_id idempotency is per network, and /gateway/verify answers per host", async () => {
    const requestId = randomUUID();
    const ka = await a().issue({ request_id: requestId });
    const kb = await b().issue({ request_id: requestId });
    expect(ka.keyId).not.toBe(kb.keyId);
    // a replay on A answers A's key again
    const replay = await a().post(ISSUED, { name: "mt", actor_id: "mt-actor", request_id: requestId });
    expect(replay.body.issued_api_key.key_id).toBe(ka.keyId);
    const gw = (host: string, secret: string) => hostCall(t.apiPort, host, "GET", "/gateway/verify", undefined, { authorization: `Bearer ${secret}` });
    expect((await gw("a.test", ka.secret)).status).toBe(200);
    expect((await gw("b.test", ka.secret)).status).not.toBe(200);
  });

  it("a page token of A is rejected by B", async () => {
    const actor = `mt-page-${randomUUID().slice(0, 8)}`;
    await a().issue({ actor_id: actor });
    await a().issue({ actor_id: actor });
    const filter = encodeURIComponent(`actor_id = "${actor}"`);
    const first = await a().get(`${ISSUED}?page_size=1&filter=${filter}`);
    const token = first.body.next_page_token as string;
    expect(token).not.toBe("");
    expect((await a().get(`${ISSUED}?page_size=1&filter=${filter}&page_token=${encodeURIComponent(token)}`)).status).toBe(200);
    const onB = await b().get(`${ISSUED}?page_size=1&filter=${filter}&page_token=${encodeURIComponent(token)}`);
    expect(onB.status).toBe(400);
    expect(onB.body.error.details[0].metadata.field).toBe("page_token");
  });

  it("derived tokens of A fail on B, and each host serves its network's JWKS", async () => {
    const { secret } = await a().issue();
    for (const algorithm of ["TOKEN_ALGORITHM_JWT", "TOKEN_ALGORITHM_MACAROON"]) {
      const d = await a().post("/v2alpha1/admin/apiKeys:derive", { credential: secret, algorithm });
      expect(d.status, d.text).toBe(200);
      const token = d.body.token.token as string;
      expect((await a().verify(token)).body.is_valid).toBe(true);
      const onB = await b().verify(token);
      expect(onB.body.is_valid).toBe(false);
      expect(onB.body.error_code).toBe("VERIFICATION_ERROR_NOT_FOUND");
    }
    const kids = async (c: ReturnType<typeof a>) => (await c.get(JWKS)).body.keys.map((k: { kid: string }) => k.kid);
    expect(await kids(a())).toEqual(["kid-a"]);
    expect(await kids(b())).toEqual(["kid-b"]);
  });

  it("quotas count per network", async () => {
    const q1 = hostClient(t.apiPort, "q1.test");
    const q2 = hostClient(t.apiPort, "q2.test");
    await q1.issue();
    await q1.issue();
    const over = await q1.post(ISSUED, { name: "over" });
    expect(over.status).toBe(429);
    await q2.issue();
    await q2.issue();
    expect((await q2.post(ISSUED, { name: "over" })).status).toBe(429);
  });

  it("an unknown host gets a 404 envelope naming it; health and version answer on any host", async () => {
    const r = await hostCall(t.apiPort, "nobody.test:81", "POST", "/v2alpha1/admin/apiKeys:verify", { credential: "x" });
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ code: 404, status: "NOT_FOUND", message: 'no network is configured for host "nobody.test"' });
    expect(r.body.error.details[0]).toMatchObject({ reason: "NOT_FOUND", metadata: { host: "nobody.test" } });
    expect(r.headers["x-request-id"]).toBeTruthy();
    for (const path of ["/health/alive", "/health/ready", "/version"]) expect((await hostCall(t.apiPort, "nobody.test", "GET", path)).status).toBe(200);
    expect((await hostCall(t.apiPort, "nobody.test", "GET", JWKS)).status).toBe(404);
  });

  it("per-network metrics carry the configured hostname as the network label", async () => {
    const { secret } = await a().issue();
    await a().verify(secret);
    await b().verify(secret);
    await hostCall(t.apiPort, "nobody.test", "GET", "/v2alpha1/admin/issuedApiKeys");
    const text = (await fetchJson(`${t.metricsUrl}/metrics`)).text;
    expect(metricValue(text, "talos_network_verifications_total", { network: "a.test", result: "valid" })).toBeGreaterThan(0);
    expect(metricValue(text, "talos_network_verifications_total", { network: "b.test", result: "not_found" })).toBeGreaterThan(0);
    expect(metricValue(text, "talos_network_http_requests_total", { network: "a.test", status: "201" })).toBeGreaterThan(0);
    expect(metricValue(text, "talos_network_api_key_events_total", { network: "a.test", event: "APIKeyCreated" })).toBeGreaterThan(0);
    // bounded by the configuration: an unknown host never becomes a label value
    expect(text).not.toContain("nobody.test");
  });

  it("X-Forwarded-Host is ignored unless serve.http.trust_forwarded_host", async () => {
    const { secret } = await a().issue();
    const viaForward = await hostCall(t.apiPort, "a.test", "POST", "/v2alpha1/admin/apiKeys:verify", { credential: secret }, { "x-forwarded-host": "b.test" });
    expect(viaForward.body.is_valid).toBe(true);
    // the trusting server picks the network from X-Forwarded-Host
    const ta = hostClient(trusting.apiPort, "a.test");
    const k = await ta.issue();
    const forwardedToB = await hostCall(trusting.apiPort, "a.test", "POST", "/v2alpha1/admin/apiKeys:verify", { credential: k.secret }, { "x-forwarded-host": "b.test" });
    expect(forwardedToB.body).toEqual(NOT_FOUND_VERIFICATION);
    const forwardedToA = await hostCall(trusting.apiPort, "proxy.internal", "POST", "/v2alpha1/admin/apiKeys:verify", { credential: k.secret }, { "x-forwarded-host": "A.test" });
    expect(forwardedToA.body.is_valid).toBe(true);
  });
});
