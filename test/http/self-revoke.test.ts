import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getKey, issueKey, mintIssuedKey, type CreateFields } from "@talos/core";
import { TEST_SECRET, startOn, testDatabases, type TestServer } from "../support/harness.js";
import {
  ISSUED,
  SELF_REVOKE,
  actor,
  expectBadRequest,
  expectEnvelope,
  expectKeyNotFound,
  expectSecurityHeaders,
  issue,
  manualClock,
  signingJwksUrl,
  verify,
} from "../support/http-expect.js";

const flipLast = (s: string) => s.slice(0, -1) + (s.endsWith("2") ? "3" : "2");

/** fixed, so test names are stable */
const SOME_UUID = "0b9e8f3c-52a1-4c0e-9d7a-6f1e2d3c4b5a";

describe.each(testDatabases())("self-revoke on $name", (db) => {
  const kid = `k-${randomUUID().slice(0, 8)}`;
  const clock = manualClock();
  /** all-in-one: admin + public routes */
  let s: TestServer;
  /** `talos serve public` */
  let p: TestServer;

  beforeAll(async () => {
    [s, p] = await Promise.all([
      startOn(db, { clock: clock.read }),
      startOn(db, { mode: "public", overrides: { "credentials.derived_tokens.jwt.signing_keys.urls": [signingJwksUrl(kid)] } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([s?.close(), p?.close()]);
  });

  const selfRevoke = (srv: TestServer, body: unknown, remoteAddress?: string) => srv.request("POST", SELF_REVOKE, body, {}, remoteAddress);
  const get = async (id: string) => (await s.request("GET", `${ISSUED}/${id}`)).body;

  /** Keys for the public server are made with the core verb: that server has no admin routes. */
  const issueOnPublic = (over: Partial<CreateFields> = {}) =>
    issueKey(p.deps.ctx, {
      name: "pub",
      actorId: actor("pub"),
      scopes: [],
      metadata: null,
      rateLimitPolicy: null,
      allowedCidrs: null,
      visibility: 1,
      ...over,
    });

  describe("all-in-one server", () => {
    it("revokes an active key: 200 {}; verify then says REVOKED", async () => {
      const { key, secret } = await issue(s, { actor_id: actor("self") });
      expect((await verify(s, secret)).body.is_valid).toBe(true);
      const res = await selfRevoke(s, { credential: secret, reason: "REVOCATION_REASON_KEY_COMPROMISE" });
      expect(res.status, res.text).toBe(200);
      expect(res.text).toBe("{}");
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expectSecurityHeaders(res);
      expect((await verify(s, secret)).body).toMatchObject({ is_valid: false, key_id: key.key_id, error_code: "VERIFICATION_ERROR_REVOKED" });
      expect(await get(key.key_id)).toMatchObject({
        status: "KEY_STATUS_REVOKED",
        revocation_reason: "REVOCATION_REASON_KEY_COMPROMISE",
        revocation_description: "",
      });
    });

    it("reason absent → UNSPECIFIED; reasons by number", async () => {
      const a = await issue(s, {});
      expect((await selfRevoke(s, { credential: a.secret })).status).toBe(200);
      expect((await get(a.key.key_id)).revocation_reason).toBe("REVOCATION_REASON_UNSPECIFIED");
      const b = await issue(s, {});
      expect((await selfRevoke(s, { credential: b.secret, reason: 2 })).status).toBe(200);
      expect((await get(b.key.key_id)).revocation_reason).toBe("REVOCATION_REASON_AFFILIATION_CHANGED");
    });

    it("is idempotent: a repeat answers 200 {} and keeps the stored reason and update_time", async () => {
      const { key, secret } = await issue(s, {});
      expect((await selfRevoke(s, { credential: secret, reason: 1 })).status).toBe(200);
      const first = await get(key.key_id);
      const again = await selfRevoke(s, { credential: secret, reason: "REVOCATION_REASON_AFFILIATION_CHANGED" });
      expect(again.status).toBe(200);
      expect(again.body).toEqual({});
      expect(await get(key.key_id)).toEqual(first);
      // a key revoked by an admin is also "already revoked"
      const adm = await issue(s, {});
      expect((await s.request("POST", `${ISSUED}/${adm.key.key_id}:revoke`, { reason: 4, description: "policy" })).status).toBe(204);
      const before = await get(adm.key.key_id);
      expect((await selfRevoke(s, { credential: adm.secret, reason: 1 })).status).toBe(200);
      expect(await get(adm.key.key_id)).toEqual(before);
    });

    it("works on expired keys and ignores IP restrictions and rate limits", async () => {
      const restricted = await issue(s, { ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] }, rate_limit_policy: { quota: 1, window: "3600s" } });
      expect((await verify(s, restricted.secret, {}, "10.0.0.1")).body.is_valid).toBe(true);
      expect((await verify(s, restricted.secret, {}, "10.0.0.1")).body.error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
      expect((await selfRevoke(s, { credential: restricted.secret }, "192.0.2.7")).status).toBe(200);
      expect((await get(restricted.key.key_id)).status).toBe("KEY_STATUS_REVOKED");

      const expiring = await issue(s, { ttl: "1s" });
      clock.tick(1000);
      expect((await get(expiring.key.key_id)).status).toBe("KEY_STATUS_EXPIRED");
      expect((await selfRevoke(s, { credential: expiring.secret })).status).toBe(200);
      expect((await get(expiring.key.key_id)).status).toBe("KEY_STATUS_REVOKED");
    });

    it("revokes imported keys by their raw value", async () => {
      const raw = `sk_test_${randomUUID()}`;
      const imp = await s.request("POST", "/v2alpha1/admin/importedApiKeys", { raw_key: raw, name: "imp", actor_id: actor("imp") });
      expect(imp.status, imp.text).toBe(201);
      expect((await selfRevoke(s, { credential: raw })).status).toBe(200);
      expect((await s.request("GET", `/v2alpha1/admin/importedApiKeys/${imp.body.key_id}`)).body.status).toBe("KEY_STATUS_REVOKED");
      expect((await verify(s, raw)).body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    });

    it("PRIVILEGE_WITHDRAWN → 400 with the exact message; the key stays active", async () => {
      const { key, secret } = await issue(s, {});
      for (const reason of ["REVOCATION_REASON_PRIVILEGE_WITHDRAWN", 4]) {
        expectBadRequest(await selfRevoke(s, { credential: secret, reason }), "reason", "PRIVILEGE_WITHDRAWN is not allowed for self-revocation");
      }
      expect((await get(key.key_id)).status).toBe("KEY_STATUS_ACTIVE");
      expectBadRequest(await selfRevoke(s, { credential: secret, reason: "REVOCATION_REASON_NOPE" }), "reason");
      expectBadRequest(await selfRevoke(s, { credential: secret, reason: 9 }), "reason");
      expect((await get(key.key_id)).status).toBe("KEY_STATUS_ACTIVE");
    });

    it("missing or empty credential → 400 credential_required; over 8192 characters → 400", async () => {
      for (const body of [{}, "", { credential: "" }, { credential: null }, { reason: 1 }]) {
        expectEnvelope(await selfRevoke(s, body), 400, "INVALID_ARGUMENT", "CREDENTIAL_REQUIRED", { message: "credential is required" });
      }
      expectBadRequest(await selfRevoke(s, { credential: "x".repeat(8193) }), "credential");
      expectBadRequest(await selfRevoke(s, { credential: 7 }), "credential");
    });

    it("garbage, bad checksum, foreign secret or prefix, out-of-range timestamp, no record → 404 api_key_not_found, all alike", async () => {
      const { key, secret } = await issue(s, {});
      const nowS = Math.floor(clock.now / 1000);
      const texts = new Set<string>();
      for (const credential of [
        "garbage",
        flipLast(secret),
        mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: randomUUID(), unixSeconds: nowS }),
        mintIssuedKey({ prefix: "ory_ak", secret: "some-other-secret-0123456789abcdef-x", keyId: key.key_id, unixSeconds: nowS }),
        mintIssuedKey({ prefix: "other", secret: TEST_SECRET, keyId: key.key_id, unixSeconds: nowS }),
        mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: key.key_id, unixSeconds: nowS + 3600 }),
        mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: key.key_id, unixSeconds: nowS - 8761 * 3600 }),
        "x".repeat(8192),
      ]) {
        const res = await selfRevoke(s, { credential });
        expectKeyNotFound(res);
        texts.add(res.text);
      }
      expect(texts.size).toBe(1);
      expect((await get(key.key_id)).status).toBe("KEY_STATUS_ACTIVE");
    });

    it("a JWT- or macaroon-shaped credential → 400 derived_token_not_revocable", async () => {
      for (const credential of ["eyJa.eyJb.c", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln", "mc_v1_AgAAAA"]) {
        expectEnvelope(await selfRevoke(s, { credential }), 400, "INVALID_ARGUMENT", "DERIVED_TOKEN_NOT_REVOCABLE");
      }
    });
  });

  describe("public server", () => {
    it("revokes: 200 {}, the key is REVOKED with the given reason", async () => {
      const out = await issueOnPublic();
      const res = await selfRevoke(p, { credential: out.secret, reason: "REVOCATION_REASON_KEY_COMPROMISE" });
      expect(res.status, res.text).toBe(200);
      expect(res.text).toBe("{}");
      expectSecurityHeaders(res);
      const rec = await getKey(p.deps.ctx, "issued", out.record.keyId);
      expect(rec).toMatchObject({ revoked: true, revocationReason: 1, revocationDescription: "" });
      const v = await p.deps.verifier.verify(out.secret, { clientIp: null, cacheMode: "default" });
      expect(v.errorCode).toBe(3); // VERIFICATION_ERROR_REVOKED
      const again = await selfRevoke(p, { credential: out.secret, reason: 2 });
      expect(again.status).toBe(200);
      expect((await getKey(p.deps.ctx, "issued", out.record.keyId)).revocationReason).toBe(1);
    });

    it("applies the same validation and the same 404s", async () => {
      const out = await issueOnPublic();
      expectBadRequest(await selfRevoke(p, { credential: out.secret, reason: 4 }), "reason", "PRIVILEGE_WITHDRAWN is not allowed for self-revocation");
      expectEnvelope(await selfRevoke(p, {}), 400, "INVALID_ARGUMENT", "CREDENTIAL_REQUIRED", { message: "credential is required" });
      expectEnvelope(await selfRevoke(p, { credential: "eyJa.eyJb.c" }), 400, "INVALID_ARGUMENT", "DERIVED_TOKEN_NOT_REVOCABLE");
      expectKeyNotFound(await selfRevoke(p, { credential: "garbage" }));
      expectKeyNotFound(await selfRevoke(p, { credential: flipLast(out.secret) }));
      // a key of the all-in-one server's database does not exist here
      expectKeyNotFound(await selfRevoke(p, { credential: mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: randomUUID(), unixSeconds: Math.floor(Date.now() / 1000) }) }));
      expect((await getKey(p.deps.ctx, "issued", out.record.keyId)).revoked).toBe(false);
    });

    it.each([
      ["GET", "/v2alpha1/admin/issuedApiKeys"],
      ["POST", "/v2alpha1/admin/issuedApiKeys"],
      ["GET", `/v2alpha1/admin/issuedApiKeys/${SOME_UUID}`],
      ["PATCH", `/v2alpha1/admin/issuedApiKeys/${SOME_UUID}`],
      ["POST", `/v2alpha1/admin/issuedApiKeys/${SOME_UUID}:rotate`],
      ["POST", `/v2alpha1/admin/issuedApiKeys/${SOME_UUID}:revoke`],
      ["POST", `/v2alpha1/admin/apiKeys/${SOME_UUID}:revoke`],
      ["POST", "/v2alpha1/admin/apiKeys:verify"],
      ["POST", "/v2alpha1/admin/apiKeys:batchVerify"],
      ["POST", "/v2alpha1/admin/apiKeys:derive"],
      ["GET", "/v2alpha1/admin/importedApiKeys"],
      ["POST", "/v2alpha1/admin/importedApiKeys:batchCreate"],
      ["DELETE", `/v2alpha1/admin/importedApiKeys/${"a".repeat(64)}`],
      ["GET", "/v2alpha1/admin/derivedKeys/jwks.json"],
      ["GET", "/v2alpha1/admin/"],
    ])("serves nothing under /v2alpha1/admin/: %s %s → 404 not_found", async (method, path) => {
      const res = await p.request(method, path, method === "GET" || method === "DELETE" ? undefined : {});
      expectEnvelope(res, 404, "NOT_FOUND", "NOT_FOUND");
      expect(res.headers.get("allow")).toBeNull();
      expectSecurityHeaders(res);
    });

    it("serves the JWKS, health and version", async () => {
      const jwks = await p.request("GET", "/v2alpha1/derivedKeys/jwks.json");
      expect(jwks.status, jwks.text).toBe(200);
      expect(jwks.body.keys).toHaveLength(1);
      expect(jwks.body.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", kid });
      expect(jwks.body.keys[0].d).toBeUndefined();
      expect(jwks.headers.get("cache-control")).toBe("public, max-age=300");
      for (const path of ["/health/alive", "/health/ready"]) {
        const res = await p.request("GET", path);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: "ok" });
      }
      const v = await p.request("GET", "/version");
      expect(v.status).toBe(200);
      expect(v.body.version).toMatch(/^\d+\.\d+\.\d+/);
      // selfRevoke answers 405 to other methods, like any known path
      const wrong = await p.request("GET", SELF_REVOKE);
      expectEnvelope(wrong, 405, "UNIMPLEMENTED", "METHOD_NOT_ALLOWED");
      expect(wrong.headers.get("allow")).toBe("POST");
    });
  });
});
