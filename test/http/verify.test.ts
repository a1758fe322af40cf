import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NIL_NID, mintIssuedKey, type Repo } from "@talos/core";
import { TEST_ISSUER, TEST_SECRET, startOn, testDatabases, type TestServer } from "../support/harness.js";
import {
  BATCH_VERIFY,
  ISSUED,
  NOT_FOUND_VERIFICATION,
  SELF_REVOKE,
  VERIFY,
  actor,
  expectBadRequest,
  expectEnvelope,
  issue,
  issuedRecord,
  manualClock,
  rfc3339,
  verify,
} from "../support/http-expect.js";

/** docs/compatibility.md#test-vectors */
const VECTOR_SECRET = "0123456789abcdef0123456789abcdef";
const VECTOR_KEY_ID = "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f";
const VECTOR_KEY =
  "ory_ak_v1_Qixkm4LLsreXThDin1PMp9sWK4x6LUoqCmkeLVEqBFS2B8YTHGnSV2U6GHuMLoWd_9EqeTSRe7bcCsfm5SdpUkfJCio1NU9TaVQFWXiumh6DZ";
const VECTOR_TS = Date.UTC(2026, 0, 1);

const flipLast = (s: string) => s.slice(0, -1) + (s.endsWith("2") ? "3" : "2");

/** Instrumentation, not a mock: counts the key lookups that reach the real repository. */
function countRepoCalls(srv: TestServer) {
  const repo = srv.built.store.repo as Repo;
  const counts = { getKey: 0, getKeys: 0 };
  const orig = { getKey: repo.getKey, getKeys: repo.getKeys };
  repo.getKey = (...args) => {
    counts.getKey++;
    return orig.getKey.apply(repo, args);
  };
  repo.getKeys = (...args) => {
    counts.getKeys++;
    return orig.getKeys.apply(repo, args);
  };
  return {
    counts,
    restore() {
      repo.getKey = orig.getKey;
      repo.getKeys = orig.getKeys;
    },
  };
}

describe.each(testDatabases())("verify issued keys on $name", (db) => {
  const clock = manualClock();
  const clock2 = manualClock(Date.UTC(2026, 5, 1));
  /** default configuration (cache on) */
  let s: TestServer;
  /** cache disabled; the docs/compatibility.md#test-vectors secret is a retired HMAC secret */
  let r: TestServer;

  beforeAll(async () => {
    [s, r] = await Promise.all([
      startOn(db, { clock: clock.read }),
      startOn(db, { clock: clock2.read, overrides: { "cache.enabled": false, "secrets.hmac.retired": [VECTOR_SECRET] } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([s?.close(), r?.close()]);
  });

  const batch = (srv: TestServer, credentials: unknown[], headers: Record<string, string> = {}) =>
    srv.request("POST", BATCH_VERIFY, { requests: credentials.map((credential) => ({ credential })) }, headers);
  const cacheHeader = (res: { headers: Headers }) => res.headers.get("ory-talos-cache");
  /** writes straight to the store, bypassing the mutation hooks: the cache is NOT told */
  const sneakyUpdate = (srv: TestServer, keyId: string, scopes: string[]) =>
    srv.built.store.repo.updateKey(NIL_NID, keyId, { scopes, updateTime: new Date(clock.now) });

  describe("outcomes", () => {
    it("a valid key: every field of VerifyApiKeyResponse", async () => {
      const { key, secret } = await issue(s, { name: "v", actor_id: actor("ok"), scopes: ["r", "w"], metadata: { tier: "gold" }, ttl: "2h" });
      const res = await verify(s, secret);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        is_valid: true,
        status: "KEY_STATUS_ACTIVE",
        key_id: key.key_id,
        actor_id: key.actor_id,
        scopes: ["r", "w"],
        expire_time: key.expire_time,
        metadata: { tier: "gold" },
        rate_limit_policy: null,
        visibility: "KEY_VISIBILITY_SECRET",
        issuer: TEST_ISSUER,
        error_code: "VERIFICATION_ERROR_UNSPECIFIED",
        error_message: "",
        rate_limit_remaining: "0",
        rate_limit_reset_time: null,
      });
      expect(res.headers.get("ratelimit-policy")).toBeNull();
      expect(res.headers.get("cache-control")).toBeNull();
    });

    it("NOT_FOUND bodies are byte-identical whatever the cause (docs/verification.md#verify-response example)", async () => {
      const existing = await issue(s, { actor_id: actor("nf") });
      const nowS = Math.floor(clock.now / 1000);
      const mint = (over: { prefix?: string; secret?: string; keyId?: string; unixSeconds?: number }) =>
        mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: existing.key.key_id, unixSeconds: nowS, ...over });
      const causes: Record<string, string> = {
        garbage: "garbage",
        "well-formed, bad checksum": flipLast(existing.secret),
        "valid checksum, no record": mint({ keyId: randomUUID() }),
        "wrong HMAC secret": mint({ secret: "another-secret-0123456789abcdef-0123" }),
        "unconfigured prefix": mint({ prefix: "zz_other" }),
        "timestamp beyond the clock skew": mint({ unixSeconds: nowS + 301 }),
        "older than max_ttl": mint({ unixSeconds: nowS - 8760 * 3600 - 1 }),
        "identifier not <ts>:<uuid>": `ory_ak_v1_${"1".repeat(30)}_${existing.secret.split("_").pop()}`,
      };
      const texts = new Set<string>();
      for (const [cause, credential] of Object.entries(causes)) {
        const res = await verify(s, credential);
        expect(res.body, cause).toEqual(NOT_FOUND_VERIFICATION);
        texts.add(res.text);
      }
      expect(texts.size).toBe(1);
      // sanity: the untouched key does verify, so the variants above differ only in the broken part
      expect((await verify(s, existing.secret)).body.is_valid).toBe(true);
      expect((await verify(s, mint({}))).body.is_valid).toBe(true);
    });

    it("EXPIRED: status KEY_STATUS_EXPIRED with the key's fields", async () => {
      const { key, secret } = await issue(s, { actor_id: actor("exp"), scopes: ["s"], metadata: { a: 1 }, ttl: "1s", rate_limit_policy: { quota: 5, window: "60s" } });
      clock.tick(1000);
      const res = await verify(s, secret);
      expect(res.body).toMatchObject({
        is_valid: false,
        status: "KEY_STATUS_EXPIRED",
        key_id: key.key_id,
        actor_id: key.actor_id,
        scopes: ["s"],
        expire_time: key.expire_time,
        metadata: { a: 1 },
        rate_limit_policy: null,
        visibility: "KEY_VISIBILITY_UNSPECIFIED",
        issuer: "",
        error_code: "VERIFICATION_ERROR_EXPIRED",
        rate_limit_remaining: "0",
        rate_limit_reset_time: null,
      });
      expect(res.body.error_message).not.toBe("");
    });

    it("REVOKED: status KEY_STATUS_UNSPECIFIED (never REVOKED) with the key's fields", async () => {
      const { key, secret } = await issue(s, { actor_id: actor("rev"), scopes: ["s"], metadata: { b: 2 } });
      expect((await s.request("POST", `${ISSUED}/${key.key_id}:revoke`, { reason: 1 })).status).toBe(204);
      const res = await verify(s, secret);
      expect(res.body).toMatchObject({
        is_valid: false,
        status: "KEY_STATUS_UNSPECIFIED",
        key_id: key.key_id,
        actor_id: key.actor_id,
        scopes: ["s"],
        expire_time: key.expire_time,
        metadata: { b: 2 },
        rate_limit_policy: null,
        visibility: "KEY_VISIBILITY_UNSPECIFIED",
        issuer: "",
        error_code: "VERIFICATION_ERROR_REVOKED",
      });
      expect(res.body.error_message).not.toBe("");
    });

    it("a key both expired and revoked reports REVOKED", async () => {
      const { key, secret } = await issue(s, { actor_id: actor("both"), ttl: "1s" });
      expect((await s.request("POST", `${ISSUED}/${key.key_id}:revoke`, {})).status).toBe(204);
      clock.tick(1000);
      expect((await verify(s, secret)).body).toMatchObject({ error_code: "VERIFICATION_ERROR_REVOKED", status: "KEY_STATUS_UNSPECIFIED" });
    });

    it("CPU-only rejections (prefix, timestamp, checksum) never reach the store", async () => {
      const { key, secret } = await issue(s, { actor_id: actor("cpu") });
      const nowS = Math.floor(clock.now / 1000);
      const calls = countRepoCalls(s);
      try {
        for (const credential of [
          flipLast(secret),
          mintIssuedKey({ prefix: "zz", secret: TEST_SECRET, keyId: key.key_id, unixSeconds: nowS }),
          mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: key.key_id, unixSeconds: nowS + 3600 }),
        ]) {
          const res = await verify(s, credential, { "Cache-Control": "no-cache" });
          expect(res.body).toEqual(NOT_FOUND_VERIFICATION);
          expect(cacheHeader(res)).toBe("SKIP");
        }
        expect(calls.counts).toEqual({ getKey: 0, getKeys: 0 });
        // the same key, well-formed, is looked up: one query (through the coalescing key reader)
        expect((await verify(s, secret, { "Cache-Control": "no-cache" })).body.is_valid).toBe(true);
        expect(calls.counts).toEqual({ getKey: 0, getKeys: 1 });
      } finally {
        calls.restore();
      }
    });

    it("records last_used_time asynchronously: the first use of the day", async () => {
      const { key, secret } = await issue(s, { actor_id: actor("used") });
      const firstUse = clock.tick(1000);
      expect((await verify(s, secret)).body.is_valid).toBe(true);
      clock.tick(5000);
      expect((await verify(s, secret)).body.is_valid).toBe(true);
      let seen = null;
      for (let i = 0; i < 50 && !seen; i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = (await s.request("GET", `${ISSUED}/${key.key_id}`)).body.last_used_time;
      }
      expect(seen).toBe(rfc3339(firstUse));
    });

    it("IP_NOT_ALLOWED and RATE_LIMITED also carry the key's fields", async () => {
      const cidr = await issue(s, { actor_id: actor("ip"), ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] } });
      const denied = await verify(s, cidr.secret, {}, "192.0.2.1");
      expect(denied.body).toMatchObject({ is_valid: false, status: "KEY_STATUS_UNSPECIFIED", key_id: cidr.key.key_id, error_code: "VERIFICATION_ERROR_IP_NOT_ALLOWED" });
      expect((await verify(s, cidr.secret, {}, "10.20.30.40")).body.is_valid).toBe(true);

      const limited = await issue(s, { actor_id: actor("rl"), rate_limit_policy: { quota: 2, window: "60s" } });
      for (let i = 0; i < 2; i++) expect((await verify(s, limited.secret)).body.is_valid).toBe(true);
      const res = await verify(s, limited.secret);
      expect(res.body).toMatchObject({
        is_valid: false,
        status: "KEY_STATUS_UNSPECIFIED",
        key_id: limited.key.key_id,
        error_code: "VERIFICATION_ERROR_RATE_LIMITED",
        error_message: "rate limit exceeded",
        rate_limit_policy: { quota: "2", window: "60s", unit: "" },
        rate_limit_remaining: "0",
      });
      expect(res.body.rate_limit_reset_time).not.toBeNull();
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    });
  });

  describe("request shape", () => {
    it("missing or empty credential → 400 credential_required", async () => {
      for (const body of [{}, "", { credential: "" }, { credential: null }]) {
        expectEnvelope(await s.request("POST", VERIFY, body), 400, "INVALID_ARGUMENT", "CREDENTIAL_REQUIRED", { message: "credential is required" });
      }
    });

    it("credential longer than 8192 characters → 400; exactly 8192 is verified", async () => {
      expectBadRequest(await s.request("POST", VERIFY, { credential: "x".repeat(8193) }), "credential");
      const ok = await s.request("POST", VERIFY, { credential: "x".repeat(8192) });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual(NOT_FOUND_VERIFICATION);
      expectBadRequest(await s.request("POST", VERIFY, { credential: 42 }), "credential");
    });
  });

  describe("cache", () => {
    it("MISS, then HIT", async () => {
      const { secret } = await issue(s, { actor_id: actor("c") });
      const first = await verify(s, secret);
      expect(cacheHeader(first)).toBe("MISS");
      const second = await verify(s, secret);
      expect(cacheHeader(second)).toBe("HIT");
      expect(second.body).toEqual(first.body);
    });

    it.each([
      [{ "Cache-Control": "no-cache" }],
      [{ "Cache-Control": "max-age=0, No-Cache" }],
      [{ Pragma: "no-cache" }],
    ])("%j bypasses the read (SKIP) but writes the fresh record", async (headers) => {
      const { key, secret } = await issue(s, { actor_id: actor("nc"), scopes: ["old"] });
      expect(cacheHeader(await verify(s, secret))).toBe("MISS");
      await sneakyUpdate(s, key.key_id, ["new"]);
      const stale = await verify(s, secret);
      expect(cacheHeader(stale)).toBe("HIT");
      expect(stale.body.scopes).toEqual(["old"]);
      const fresh = await verify(s, secret, headers);
      expect(cacheHeader(fresh)).toBe("SKIP");
      expect(fresh.body.scopes).toEqual(["new"]);
      const after = await verify(s, secret);
      expect(cacheHeader(after)).toBe("HIT");
      expect(after.body.scopes).toEqual(["new"]);
    });

    it.each([[{ "Cache-Control": "no-store" }], [{ "Cache-Control": "no-cache, NO-STORE" }]])(
      "%j neither reads nor writes the cache",
      async (headers) => {
        const { key, secret } = await issue(s, { actor_id: actor("ns"), scopes: ["old"] });
        const skipped = await verify(s, secret, headers);
        expect(cacheHeader(skipped)).toBe("SKIP");
        expect(skipped.body.is_valid).toBe(true);
        expect(cacheHeader(await verify(s, secret))).toBe("MISS");
        await sneakyUpdate(s, key.key_id, ["new"]);
        const fresh = await verify(s, secret, headers);
        expect(cacheHeader(fresh)).toBe("SKIP");
        expect(fresh.body.scopes).toEqual(["new"]);
        const cached = await verify(s, secret);
        expect(cacheHeader(cached)).toBe("HIT");
        expect(cached.body.scopes).toEqual(["old"]);
      },
    );

    it("an entry lives min(cache.ttl, expire_time − now) and is not written below 1 s", async () => {
      // lru-cache reuses its last clock reading until a timer turn has passed: let one pass per tick
      const tick = async (ms: number) => {
        clock.tick(ms);
        await new Promise((r) => setTimeout(r, 5));
      };
      const long = await issue(s, { actor_id: actor("ttl") });
      expect(cacheHeader(await verify(s, long.secret))).toBe("MISS");
      await tick(59_000);
      expect(cacheHeader(await verify(s, long.secret))).toBe("HIT");
      await tick(1_500);
      expect(cacheHeader(await verify(s, long.secret))).toBe("MISS");

      const short = await issue(s, { actor_id: actor("ttl"), ttl: "10s" });
      expect(cacheHeader(await verify(s, short.secret))).toBe("MISS");
      await tick(9_000);
      expect(cacheHeader(await verify(s, short.secret))).toBe("HIT");
      await tick(1_001);
      const gone = await verify(s, short.secret);
      expect(gone.body.error_code).toBe("VERIFICATION_ERROR_EXPIRED");
      expect(cacheHeader(gone)).toBe("MISS");

      const brief = await issue(s, { actor_id: actor("ttl"), ttl: "1s" });
      await tick(200);
      expect(cacheHeader(await verify(s, brief.secret))).toBe("MISS");
      const again = await verify(s, brief.secret);
      expect(cacheHeader(again)).toBe("MISS");
      expect(again.body.is_valid).toBe(true);
    });

    it("other Cache-Control tokens are ignored", async () => {
      const { secret } = await issue(s, { actor_id: actor("cc") });
      expect(cacheHeader(await verify(s, secret, { "Cache-Control": "private, max-age=10" }))).toBe("MISS");
      expect(cacheHeader(await verify(s, secret, { "Cache-Control": "no-transform", Pragma: "foo" }))).toBe("HIT");
    });

    it("NOT_FOUND is never cached; credentials rejected before the lookup are SKIP", async () => {
      const keyId = randomUUID();
      const credential = mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId, unixSeconds: Math.floor(clock.now / 1000) });
      const missing = await verify(s, credential);
      expect(missing.body).toEqual(NOT_FOUND_VERIFICATION);
      expect(cacheHeader(missing)).toBe("MISS");
      await s.built.store.repo.insertKey(issuedRecord({ keyId, actorId: actor("late") }, clock.now));
      const found = await verify(s, credential);
      expect(found.body).toMatchObject({ is_valid: true, key_id: keyId });
      expect(cacheHeader(found)).toBe("MISS");
      const rejected = await verify(s, flipLast(credential));
      expect(rejected.body).toEqual(NOT_FOUND_VERIFICATION);
      expect(cacheHeader(rejected)).toBe("SKIP");
    });

    it("cache.enabled: false → always SKIP", async () => {
      const { secret } = await issue(r, { actor_id: actor("off") });
      for (let i = 0; i < 2; i++) {
        const res = await verify(r, secret);
        expect(res.body.is_valid).toBe(true);
        expect(cacheHeader(res)).toBe("SKIP");
      }
    });

    it("update, rotate, revoke and self-revoke evict the entry: the next verify sees the change", async () => {
      const warm = async (secret: string) => {
        await verify(s, secret);
        expect(cacheHeader(await verify(s, secret))).toBe("HIT");
      };
      const a = await issue(s, { actor_id: actor("evict"), scopes: ["before"] });
      await warm(a.secret);
      expect((await s.request("PATCH", `${ISSUED}/${a.key.key_id}`, { scopes: ["after"] })).status).toBe(200);
      const afterUpdate = await verify(s, a.secret);
      expect(afterUpdate.body.scopes).toEqual(["after"]);
      expect(cacheHeader(afterUpdate)).toBe("MISS");

      await warm(a.secret);
      const rot = await s.request("POST", `${ISSUED}/${a.key.key_id}:rotate`, {});
      expect(rot.status).toBe(201);
      const afterRotate = await verify(s, a.secret);
      expect(afterRotate.body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
      expect((await verify(s, rot.body.secret)).body.is_valid).toBe(true);

      const b = await issue(s, { actor_id: actor("evict") });
      await warm(b.secret);
      expect((await s.request("POST", `${ISSUED}/${b.key.key_id}:revoke`, {})).status).toBe(204);
      expect((await verify(s, b.secret)).body.error_code).toBe("VERIFICATION_ERROR_REVOKED");

      const c = await issue(s, { actor_id: actor("evict") });
      await warm(c.secret);
      expect((await s.request("POST", SELF_REVOKE, { credential: c.secret })).status).toBe(200);
      expect((await verify(s, c.secret)).body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    });
  });

  describe("HMAC secrets and the docs/compatibility.md#test-vectors vector", () => {
    const vectorRecord = (srv: TestServer) =>
      srv.built.store.repo.insertKey(
        issuedRecord({ keyId: VECTOR_KEY_ID, actorId: "user_123", name: "ci-bot", scopes: ["read"], expireTime: new Date(Date.UTC(2030, 0, 1)) }, VECTOR_TS),
      );

    it("a key signed with a retired secret still verifies; the age and skew windows apply", async () => {
      expect(await vectorRecord(r)).toBe(true);
      const at = async (ms: number) => {
        clock2.now = ms;
        return (await verify(r, VECTOR_KEY)).body;
      };
      expect(await at(Date.UTC(2026, 5, 1))).toMatchObject({ is_valid: true, key_id: VECTOR_KEY_ID, actor_id: "user_123", scopes: ["read"] });
      expect((await at(Date.UTC(2025, 11, 31, 23, 55, 0))).is_valid).toBe(true); // exactly ts − clock_skew
      expect((await at(Date.UTC(2027, 0, 1, 0, 0, 0))).is_valid).toBe(true); // exactly ts + max_ttl
      expect(await at(Date.UTC(2027, 0, 1, 0, 0, 1))).toEqual(NOT_FOUND_VERIFICATION); // expire_time is 2030: the age check decides
      expect(await at(Date.UTC(2025, 11, 31, 23, 54, 59))).toEqual(NOT_FOUND_VERIFICATION);
      expect(await at(Date.UTC(2026, 5, 1))).toMatchObject({ is_valid: true });
      expect(await at(Date.UTC(2026, 5, 1)).then(() => verify(r, flipLast(VECTOR_KEY))).then((x) => x.body)).toEqual(NOT_FOUND_VERIFICATION);
      // keys minted now use the current secret and verify too
      const fresh = await issue(r, {});
      expect((await verify(r, fresh.secret)).body.is_valid).toBe(true);
    });

    it("a server without that secret answers NOT_FOUND for the same key and record", async () => {
      expect(await vectorRecord(s)).toBe(true);
      const saved = clock.now;
      try {
        clock.now = Date.UTC(2026, 5, 1);
        expect((await verify(s, VECTOR_KEY)).body).toEqual(NOT_FOUND_VERIFICATION);
      } finally {
        clock.now = saved;
      }
    });
  });

  describe("batchVerify", () => {
    it("needs 1 to 100 requests", async () => {
      for (const body of [{}, { requests: [] }, { requests: null }]) expectBadRequest(await s.request("POST", BATCH_VERIFY, body), "requests");
      expectBadRequest(await batch(s, Array.from({ length: 101 }, () => "x")), "requests");
      expect((await batch(s, Array.from({ length: 100 }, () => "x"))).status).toBe(200);
      expectBadRequest(await s.request("POST", BATCH_VERIFY, { requests: "x" }), "requests");
      expectBadRequest(await s.request("POST", BATCH_VERIFY, { requests: ["x"] }), "requests[0]");
    });

    it("an item longer than 8192 characters → 400 naming requests[i].credential", async () => {
      const res = await batch(s, ["a", "b", "x".repeat(8193)]);
      const e = expectBadRequest(res, "requests[2].credential");
      expect(e.message).toContain("requests[2].credential");
    });

    it("results in request order, each exactly as a single verify; empty items are INVALID_FORMAT", async () => {
      const a = actor("batch");
      const valid = await issue(s, { actor_id: a, scopes: ["v"] });
      const revoked = await issue(s, { actor_id: a });
      const expired = await issue(s, { actor_id: a, ttl: "1s" });
      expect((await s.request("POST", `${ISSUED}/${revoked.key.key_id}:revoke`, {})).status).toBe(204);
      clock.tick(1000);
      const creds = [valid.secret, "garbage", "", revoked.secret, valid.secret, flipLast(valid.secret), expired.secret];
      const res = await batch(s, creds);
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.body)).toEqual(["results"]);
      const results = res.body.results;
      expect(results).toHaveLength(creds.length);
      expect(results.map((x: { error_code: string }) => x.error_code)).toEqual([
        "VERIFICATION_ERROR_UNSPECIFIED",
        "VERIFICATION_ERROR_NOT_FOUND",
        "VERIFICATION_ERROR_INVALID_FORMAT",
        "VERIFICATION_ERROR_REVOKED",
        "VERIFICATION_ERROR_UNSPECIFIED",
        "VERIFICATION_ERROR_NOT_FOUND",
        "VERIFICATION_ERROR_EXPIRED",
      ]);
      expect(results[2]).toEqual({ ...NOT_FOUND_VERIFICATION, error_code: "VERIFICATION_ERROR_INVALID_FORMAT", error_message: "credential is required" });
      for (const [i, credential] of creds.entries()) {
        if (credential === "") continue;
        expect(results[i], `item ${i}`).toEqual((await verify(s, credential)).body);
      }
    });

    it("Ory-Talos-Cache: MISS if any cacheable item missed, HIT if all hit, SKIP when bypassed or nothing cacheable", async () => {
      const x = await issue(s, { actor_id: actor("bc") });
      const y = await issue(s, { actor_id: actor("bc") });
      expect(cacheHeader(await batch(s, [x.secret]))).toBe("MISS");
      expect(cacheHeader(await batch(s, [x.secret, y.secret]))).toBe("MISS");
      expect(cacheHeader(await batch(s, [x.secret, y.secret, x.secret]))).toBe("HIT");
      expect(cacheHeader(await batch(s, [x.secret, "", flipLast(y.secret)]))).toBe("HIT");
      expect(cacheHeader(await batch(s, ["", flipLast(y.secret)]))).toBe("SKIP");
      expect(cacheHeader(await batch(s, [x.secret, y.secret], { "Cache-Control": "no-cache" }))).toBe("SKIP");
      expect(cacheHeader(await batch(r, [x.secret]))).toBe("SKIP");

      // cache directives apply to every item: no-store writes nothing
      const z = await issue(s, { actor_id: actor("bc") });
      const w = await issue(s, { actor_id: actor("bc") });
      const noStore = await batch(s, [z.secret, w.secret], { "Cache-Control": "no-store" });
      expect(cacheHeader(noStore)).toBe("SKIP");
      expect(noStore.body.results.map((v: { is_valid: boolean }) => v.is_valid)).toEqual([true, true]);
      expect(cacheHeader(await verify(s, z.secret))).toBe("MISS");
      expect(cacheHeader(await verify(s, w.secret))).toBe("MISS");
    });

    it("carries no RateLimit, Retry-After or Cache-Control headers", async () => {
      const limited = await issue(s, { actor_id: actor("brl"), rate_limit_policy: { quota: 1, window: "60s" }, ip_restriction: { allowed_cidrs: ["127.0.0.0/8"] } });
      const single = await verify(s, limited.secret);
      expect(single.headers.get("ratelimit-policy")).toBe('"default";q=1;w=60');
      expect(single.headers.get("cache-control")).toBe("no-store");
      const res = await batch(s, [limited.secret, limited.secret]);
      expect(res.body.results.map((v: { error_code: string }) => v.error_code)).toEqual([
        "VERIFICATION_ERROR_RATE_LIMITED",
        "VERIFICATION_ERROR_RATE_LIMITED",
      ]);
      for (const h of ["ratelimit", "ratelimit-policy", "retry-after", "cache-control"]) expect(res.headers.get(h), h).toBeNull();
    });

    it("loads all issued keys of a batch with one database round trip", async () => {
      const a = actor("trip");
      const keys: { secret: string }[] = [];
      for (let i = 0; i < 6; i++) keys.push(await issue(s, { actor_id: a }));
      const calls = countRepoCalls(s);
      try {
        const res = await batch(s, [...keys.map((k) => k.secret), keys[0]!.secret, "garbage-imported-style"], { "Cache-Control": "no-cache" });
        expect(res.body.results.filter((v: { is_valid: boolean }) => v.is_valid)).toHaveLength(7);
        expect(calls.counts).toEqual({ getKey: 0, getKeys: 1 });
        // now cached: no round trip at all
        const cached = await batch(s, keys.map((k) => k.secret));
        expect(cacheHeader(cached)).toBe("HIT");
        expect(calls.counts).toEqual({ getKey: 0, getKeys: 1 });
      } finally {
        calls.restore();
      }
    });
  });
});
