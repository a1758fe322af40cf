import { createHash, randomBytes, randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, mintIssuedKey } from "@talos/core";
import type { Logger } from "@talos/http";
import { createServer } from "@talos/server";
import { TEST_ISSUER, TEST_SECRET, startOn, startTestServer, testDatabases, type TestResponse, type TestServer } from "../support/harness.js";
import { KEY_FIELDS, NOT_FOUND_VERIFICATION } from "../support/http-expect.js";

/**
 * Imported keys over HTTP (docs/keys.md#list, docs/keys.md#get, docs/keys.md#update, docs/keys.md#revoke, docs/keys.md#import, docs/keys.md#revoke-alias, docs/keys.md#delete, docs/keys.md#self-revocation, docs/keys.md#idempotency, docs/verification.md, docs/keys.md#imported-key-ids, docs/keys.md#listing-filters-and-page-tokens): import, get, list,
 * update, revoke, delete, verify, batch verify and self-revoke, on the embedded database and PostgreSQL.
 */

const NIL = "00000000-0000-0000-0000-000000000000";
const BASE = "/v2alpha1/admin/importedApiKeys";
const VERIFY = "/v2alpha1/admin/apiKeys:verify";
const BATCH_VERIFY = "/v2alpha1/admin/apiKeys:batchVerify";
const SELF_REVOKE = "/v2alpha1/apiKeys:selfRevoke";
const HOUR = 3_600_000;
const TALOS_FORMAT = "raw_key uses a Talos credential format and cannot be imported";
const DUPLICATE = "key already imported (duplicate detected)";

/** docs/keys.md#imported-key-ids, computed independently of the implementation. */
const keyIdOf = (raw: string): string =>
  createHash("sha512-256")
    .update(Buffer.concat([Buffer.from(NIL, "ascii"), Buffer.from([0]), Buffer.from(raw, "utf8")]))
    .digest("hex");
const uniq = (): string => randomBytes(6).toString("hex");
const newRaw = (): string => `sk_test_${randomBytes(20).toString("hex")}`;
const actor = (what: string): string => `${what}-${uniq()}`;
const ms = (t: string | null): number => Date.parse(t!);

const NOT_FOUND_BODY = NOT_FOUND_VERIFICATION;

function expectError(res: TestResponse, code: number, status: string, reason: string, message?: string): void {
  expect(res.status, res.text).toBe(code);
  expect(res.headers.get("content-type")).toContain("application/json");
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.status).toBe(status);
  expect(res.body.error.details[0].reason).toBe(reason);
  expect(res.body.error.details[0].domain).toBe("www.ory.com/talos");
  if (message !== undefined) expect(res.body.error.message).toBe(message);
}

function expectBadRequest(res: TestResponse, field: string, message?: string): void {
  expectError(res, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
  expect(res.body.error.message.startsWith(`${field}: `), res.body.error.message).toBe(true);
  expect(res.body.error.details[0].metadata.field).toBe(field);
  if (message !== undefined) expect(res.body.error.message).toBe(message);
}

/** Page-token rejections carry the exact docs/keys.md#page-tokens message (no field prefix) and metadata.field = page_token. */
function expectBadToken(res: TestResponse, message: string): void {
  expectError(res, 400, "INVALID_ARGUMENT", "BAD_REQUEST", message);
  expect(res.body.error.details[0].metadata.field).toBe("page_token");
}

const expectNotFound = (res: TestResponse) => expectError(res, 404, "NOT_FOUND", "API_KEY_NOT_FOUND", "API key not found");

/** Every raw key sent in a request body (raw_key fields, also inside batch items). */
function collectRawKeys(body: unknown, into: Set<string>): void {
  if (Array.isArray(body)) {
    for (const b of body) collectRawKeys(b, into);
    return;
  }
  if (body === null || typeof body !== "object") return;
  for (const [k, v] of Object.entries(body)) {
    if ((k === "raw_key" || k === "rawKey") && typeof v === "string" && v.length >= 12) into.add(v);
    else collectRawKeys(v, into);
  }
}

type Req = (method: string, path: string, body?: unknown, headers?: Record<string, string>, remoteAddress?: string) => Promise<TestResponse>;

/** Wraps a server so that every response is searched for every raw key imported so far. */
function leakChecked(s: TestServer, rawKeys: Set<string>, counter: { n: number }): Req {
  return async (method, path, body, headers, remoteAddress) => {
    collectRawKeys(body, rawKeys);
    const res = await s.request(method, path, body, headers, remoteAddress);
    for (const raw of rawKeys) expect(res.text.includes(raw), `${method} ${path} leaked a raw key`).toBe(false);
    counter.n++;
    return res;
  };
}

async function poll<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await fn();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    v = await fn();
  }
  return v;
}

describe.each(testDatabases())("imported keys on $name", (db) => {
  const shared = db.name === "postgres";
  let offset = 0;
  /** when set, the servers' clock stands still at this instant (rate limits, exact boundaries) */
  let frozenAt: number | null = null;
  const clock = () => frozenAt ?? Date.now() + offset;
  let s: TestServer; // admin-mode on PostgreSQL (public server separate), all-in-one on the embedded database
  let pub: TestServer | null = null; // public-mode process sharing the PostgreSQL database
  const rawKeys = new Set<string>();
  const checked = { n: 0 };
  let req: Req;
  let pubReq: Req;

  beforeAll(async () => {
    s = await startOn(db, { clock, mode: shared ? "admin" : "all" });
    req = leakChecked(s, rawKeys, checked);
    if (shared) {
      pub = await startTestServer({ mode: "public", clock, overrides: { "db.dsn": s.config.db.dsn } });
      pubReq = leakChecked(pub, rawKeys, checked);
    } else {
      pubReq = req;
    }
  });
  afterAll(async () => {
    await pub?.close();
    await s?.close();
  });

  /** Imports a fresh random key; returns the raw key and the response body. */
  async function imp(extra: Record<string, unknown> = {}, raw = newRaw()) {
    const res = await req("POST", BASE, { raw_key: raw, name: "k", actor_id: actor("a"), ...extra });
    expect(res.status, res.text).toBe(201);
    return { raw, key: res.body, keyId: res.body.key_id as string };
  }

  async function issue(extra: Record<string, unknown> = {}) {
    const res = await req("POST", "/v2alpha1/admin/issuedApiKeys", { name: "i", actor_id: actor("issued"), ...extra });
    expect(res.status, res.text).toBe(201);
    return { secret: res.body.secret as string, keyId: res.body.issued_api_key.key_id as string };
  }

  const verify = (credential: string, headers?: Record<string, string>, ip?: string) => req("POST", VERIFY, { credential }, headers, ip);

  describe("import", () => {
    it("creates the key: 201, Location, the bare resource with every field, key_id = SHA-512/256(nid ‖ 0 ‖ raw)", async () => {
      const raw = newRaw();
      const who = actor("full");
      const before = clock();
      const res = await req("POST", BASE, {
        raw_key: raw,
        name: "billing import",
        actor_id: who,
        scopes: ["read", "write"],
        ttl: "30d",
        metadata: { team: "billing", nested: { n: 1 } },
        rate_limit_policy: { quota: "100", window: "60s", unit: "requests" },
        ip_restriction: { allowed_cidrs: ["10.0.0.0/8", "2001:db8::/32"] },
        visibility: "KEY_VISIBILITY_PUBLIC",
      });
      const after = clock();
      expect(res.status, res.text).toBe(201);
      const keyId = keyIdOf(raw);
      expect(res.headers.get("location")).toBe(`${BASE}/${keyId}`);
      expect(res.headers.get("content-type")).toContain("application/json");
      const k = res.body;
      expect(Object.keys(k).sort()).toEqual(KEY_FIELDS);
      expect(k).toMatchObject({
        key_id: keyId,
        name: "billing import",
        actor_id: who,
        scopes: ["read", "write"],
        status: "KEY_STATUS_ACTIVE",
        metadata: { team: "billing", nested: { n: 1 } },
        last_used_time: null,
        rate_limit_policy: { quota: "100", window: "60s", unit: "requests" },
        ip_restriction: { allowed_cidrs: ["10.0.0.0/8", "2001:db8::/32"] },
        revocation_reason: "REVOCATION_REASON_UNSPECIFIED",
        revocation_description: "",
        visibility: "KEY_VISIBILITY_PUBLIC",
      });
      expect(k.create_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/);
      expect(ms(k.create_time)).toBeGreaterThanOrEqual(before);
      expect(ms(k.create_time)).toBeLessThanOrEqual(after);
      expect(k.update_time).toBe(k.create_time);
      expect(ms(k.expire_time) - ms(k.create_time)).toBe(30 * 24 * HOUR);
      // GET returns the same resource
      const got = await req("GET", `${BASE}/${keyId}`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual(k);
    });

    it("docs/compatibility.md#test-vectors vector: raw key sk_live_example_0001 gets key_id 5c307a51…594648 and verifies", async () => {
      const raw = "sk_live_example_0001";
      const vector = "5c307a51521d853fb92610f351eff76d1aeec225a7cbdc8ec4f7558b09594648";
      const res = await req("POST", BASE, { raw_key: raw, name: "vector", actor_id: actor("vector") });
      expect(res.status, res.text).toBe(201);
      expect(res.body.key_id).toBe(vector);
      expect(res.headers.get("location")).toBe(`${BASE}/${vector}`);
      const v = await verify(raw);
      expect(v.body.is_valid).toBe(true);
      expect(v.body.key_id).toBe(vector);
      expect((await req("DELETE", `${BASE}/${vector}`)).status).toBe(204);
    });

    it("applies defaults: scopes [], metadata null, policy and CIDRs null, SECRET visibility, expiry = max_ttl (8760h)", async () => {
      for (const extra of [{}, { ttl: "0s" }, { ttl: "" }, { visibility: "KEY_VISIBILITY_UNSPECIFIED" }, { visibility: 0 }, { ip_restriction: { allowed_cidrs: [] } }]) {
        const { key } = await imp(extra);
        expect(key).toMatchObject({ scopes: [], metadata: null, rate_limit_policy: null, ip_restriction: null, visibility: "KEY_VISIBILITY_SECRET" });
        expect(ms(key.expire_time) - ms(key.create_time)).toBe(8760 * HOUR);
      }
      const empty = await imp({ metadata: {} });
      expect(empty.key.metadata).toEqual({});
    });

    it("accepts lowerCamelCase field names and every ttl form", async () => {
      const raw = newRaw();
      const res = await req("POST", BASE, {
        rawKey: raw,
        name: "camel",
        actorId: actor("camel"),
        rateLimitPolicy: { quota: 5, window: "1.9s" },
        ipRestriction: { allowedCidrs: ["192.168.0.0/16"] },
        ttl: "6mo2w",
      });
      expect(res.status, res.text).toBe(201);
      expect(res.body.key_id).toBe(keyIdOf(raw));
      expect(res.body.rate_limit_policy).toEqual({ quota: "5", window: "1s", unit: "" });
      expect(res.body.ip_restriction).toEqual({ allowed_cidrs: ["192.168.0.0/16"] });
      expect(ms(res.body.expire_time) - ms(res.body.create_time)).toBe((180 + 14) * 24 * HOUR);
      for (const [ttl, sec] of [["3600s", 3600], ["1.5h", 5400], ["1h30m", 5400], ["2w3d", 17 * 86400], ["8760h", 8760 * 3600], ["1s", 1]] as const) {
        const r = await req("POST", BASE, { raw_key: newRaw(), name: "t", actor_id: actor("ttl"), ttl });
        expect(r.status, `${ttl}: ${r.text}`).toBe(201);
        expect(ms(r.body.expire_time) - ms(r.body.create_time)).toBe(sec * 1000);
      }
      // within the 10-year bound but beyond max_ttl (8760h): the expiry-rule message (docs/keys.md#issue)
      const over = await req("POST", BASE, { raw_key: newRaw(), name: "t", actor_id: actor("ttl"), ttl: "315360000s" });
      expectError(over, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
      expect(over.body.error.message).toMatch(/^ttl \S+ exceeds the project maximum of \S+$/);
      expect(over.body.error.details[0].metadata.field).toBe("ttl");
      // a tiny non-zero ttl is below the 1 s minimum, not "use the default"
      for (const ttl of ["1ns", "100ns", "1us", "1µs", "0.0000000001s"]) {
        const tiny = await req("POST", BASE, { raw_key: newRaw(), name: "t", actor_id: actor("ttl"), ttl });
        expectError(tiny, 400, "INVALID_ARGUMENT", "BAD_REQUEST", "ttl: must be between 1s and 315360000s");
        expect(tiny.body.error.details[0].metadata.field, ttl).toBe("ttl");
      }
    });

    it("treats the raw key byte-exactly (no trimming, case-sensitive, UTF-8)", async () => {
      const base = newRaw();
      const variants = [base, ` ${base}`, `${base} `, base.toUpperCase(), `${base}é`, `${base}\u0000x`];
      const ids = new Set<string>();
      for (const raw of variants) {
        const res = await req("POST", BASE, { raw_key: raw, name: "v", actor_id: actor("bytes") });
        expect(res.status, res.text).toBe(201);
        expect(res.body.key_id).toBe(keyIdOf(raw));
        ids.add(res.body.key_id);
        const v = await verify(raw);
        expect(v.body.is_valid).toBe(true);
        expect(v.body.key_id).toBe(keyIdOf(raw));
      }
      expect(ids.size).toBe(variants.length);
      // 4096 characters is the maximum accepted length
      const long = `L${randomBytes(2048).toString("hex")}`.slice(0, 4096);
      const res = await req("POST", BASE, { raw_key: long, name: "long", actor_id: actor("long") });
      expect(res.status, res.text).toBe(201);
      expect(res.body.key_id).toBe(keyIdOf(long));
    });

    it("requires raw_key, name and actor_id (missing, null or empty → 400 naming the field)", async () => {
      const full = () => ({ raw_key: newRaw(), name: "n", actor_id: actor("req") });
      for (const field of ["raw_key", "name", "actor_id"]) {
        for (const variant of ["missing", "null", "empty"] as const) {
          const body: Record<string, unknown> = full();
          if (variant === "missing") delete body[field];
          else body[field] = variant === "null" ? null : "";
          const res = await req("POST", BASE, body);
          expectBadRequest(res, field, `${field}: is required`);
        }
      }
      const none = await req("POST", BASE);
      expectError(none, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
      expect(none.body.error.message).toMatch(/^(raw_key|name|actor_id): is required$/);
    });

    it("rejects every kind of bad input with 400 naming the field, and stores nothing", async () => {
      const who = actor("bad");
      const ok = () => ({ raw_key: newRaw(), name: "n", actor_id: who });
      const cases: [Record<string, unknown>, string][] = [
        [{ raw_key: "x".repeat(4097) }, "raw_key"],
        [{ raw_key: `A${randomBytes(2100).toString("hex")}`.slice(0, 4097) }, "raw_key"],
        [{ raw_key: 12345 }, "raw_key"],
        [{ name: "n".repeat(257) }, "name"],
        [{ name: 5 }, "name"],
        [{ actor_id: "a".repeat(257) }, "actor_id"],
        [{ actor_id: ["x"] }, "actor_id"],
        [{ scopes: "read" }, "scopes"],
        [{ scopes: Array.from({ length: 65 }, (_, i) => `s${i}`) }, "scopes"],
        [{ scopes: ["ok", ""] }, "scopes[1]"],
        [{ scopes: ["x".repeat(129)] }, "scopes[0]"],
        [{ scopes: [1] }, "scopes[0]"],
        [{ ttl: "soon" }, "ttl"],
        [{ ttl: "-1h" }, "ttl"],
        [{ ttl: "0.5s" }, "ttl"],
        [{ ttl: "315360001s" }, "ttl"],
        [{ ttl: 3600 }, "ttl"],
        [{ metadata: { blob: "x".repeat(4100) } }, "metadata"],
        [{ metadata: [1, 2] }, "metadata"],
        [{ metadata: "text" }, "metadata"],
        [{ rate_limit_policy: { quota: 0, window: "60s" } }, "rate_limit_policy.quota"],
        [{ rate_limit_policy: { quota: "9007199254740992", window: "60s" } }, "rate_limit_policy.quota"],
        [{ rate_limit_policy: { quota: "ten", window: "60s" } }, "rate_limit_policy.quota"],
        [{ rate_limit_policy: { window: "60s" } }, "rate_limit_policy.quota"],
        [{ rate_limit_policy: { quota: 1 } }, "rate_limit_policy.window"],
        [{ rate_limit_policy: { quota: 1, window: "1m" } }, "rate_limit_policy.window"],
        [{ rate_limit_policy: { quota: 1, window: "0.5s" } }, "rate_limit_policy.window"],
        [{ rate_limit_policy: { quota: 1, window: "60s", unit: "u".repeat(65) } }, "rate_limit_policy.unit"],
        [{ rate_limit_policy: "fast" }, "rate_limit_policy"],
        [{ ip_restriction: { allowed_cidrs: ["10.0.0.0"] } }, "ip_restriction.allowed_cidrs[0]"],
        [{ ip_restriction: { allowed_cidrs: ["10.0.0.0/8", "not-an-ip/8"] } }, "ip_restriction.allowed_cidrs[1]"],
        [{ ip_restriction: { allowed_cidrs: ["10.0.0.0/33"] } }, "ip_restriction.allowed_cidrs[0]"],
        [{ ip_restriction: { allowed_cidrs: Array.from({ length: 65 }, (_, i) => `10.0.${i}.0/24`) } }, "ip_restriction.allowed_cidrs"],
        [{ request_id: "r".repeat(37) }, "request_id"],
        [{ visibility: "KEY_VISIBILITY_SHARED" }, "visibility"],
        [{ visibility: 3 }, "visibility"],
        [{ actorId: "dup" }, "actor_id"],
      ];
      for (const [patch, field] of cases) {
        const res = await req("POST", BASE, { ...ok(), ...patch });
        expectBadRequest(res, field);
        expect(res.headers.get("location")).toBeNull();
      }
      const notJson = await req("POST", BASE, "{not json");
      expectError(notJson, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
      const arr = await req("POST", BASE, "[1,2]");
      expectError(arr, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
      const list = await req("GET", `${BASE}?filter=${encodeURIComponent(`actor_id="${who}"`)}`);
      expect(list.status).toBe(200);
      expect(list.body.imported_api_keys).toEqual([]);
    });

    it("rejects Talos-format raw keys with 409 failed_precondition and stores nothing (docs/verification.md#credential-routing rules 1–3)", async () => {
      const issued = await issue();
      const now = Math.floor(clock() / 1000);
      const otherPrefix = mintIssuedKey({ prefix: "acme", secret: "some-other-secret-0123456789abcdefghij", keyId: randomUUID(), unixSeconds: now });
      expect(otherPrefix.startsWith("acme_v1_")).toBe(true);
      const forgedChecksum = mintIssuedKey({ prefix: "ory_ak", secret: "wrong-secret-wrong-secret-wrong-secret", keyId: randomUUID(), unixSeconds: now });
      const ancient = mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: randomUUID(), unixSeconds: 1 });
      const talos = [
        issued.secret,
        otherPrefix,
        forgedChecksum,
        ancient,
        "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
        "eyJa.b.c",
        "mc_v1_xxx",
        `mc_v1_${randomBytes(30).toString("base64url")}`,
      ];
      for (const raw of talos) {
        const res = await req("POST", BASE, { raw_key: raw, name: "t", actor_id: actor("talos") });
        expectError(res, 409, "FAILED_PRECONDITION", "FAILED_PRECONDITION", TALOS_FORMAT);
        expect(res.text).not.toContain(raw);
        expectNotFound(await req("GET", `${BASE}/${keyIdOf(raw)}`));
      }
      // near misses route as imported keys and are accepted (docs/verification.md#credential-routing rule 4)
      const nearMisses = [
        `${issued.secret.slice(0, -1)}0`, // checksum with a non-Base58 character
        issued.secret.replace("_v1_", "_v2_"),
        "mc_v2_xxx",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0", // two segments only
        "eyJ.eyJ.x", // empty first segment after eyJ
        `${"p".repeat(17)}_v1_${issued.secret.split("_v1_")[1]}`, // prefix longer than 16
      ];
      for (const raw of nearMisses) {
        const res = await req("POST", BASE, { raw_key: raw, name: "near", actor_id: actor("near") });
        expect(res.status, `${raw}: ${res.text}`).toBe(201);
        expect(res.body.key_id).toBe(keyIdOf(raw));
      }
      // the issued key itself is untouched
      const v = await verify(issued.secret);
      expect(v.body.is_valid).toBe(true);
      expect(v.body.key_id).toBe(issued.keyId);
    });

    it("rejects a duplicate with 409 api_key_exists in any state; after delete the raw key can be imported again", async () => {
      const { raw, keyId } = await imp({ name: "first" });
      const dup = () => req("POST", BASE, { raw_key: raw, name: "second", actor_id: actor("dup") });
      expectError(await dup(), 409, "ALREADY_EXISTS", "API_KEY_EXISTS", DUPLICATE);
      expect((await req("POST", `${BASE}/${keyId}:revoke`, {})).status).toBe(204);
      expectError(await dup(), 409, "ALREADY_EXISTS", "API_KEY_EXISTS", DUPLICATE);
      // expired keys are duplicates too
      const exp = await imp({ ttl: "1h" });
      offset += 2 * HOUR;
      try {
        expect((await req("GET", `${BASE}/${exp.keyId}`)).body.status).toBe("KEY_STATUS_EXPIRED");
        const again = await req("POST", BASE, { raw_key: exp.raw, name: "x", actor_id: actor("dup") });
        expectError(again, 409, "ALREADY_EXISTS", "API_KEY_EXISTS", DUPLICATE);
      } finally {
        offset -= 2 * HOUR;
      }
      // the stored record is the first one, unchanged
      const got = await req("GET", `${BASE}/${keyId}`);
      expect(got.body.name).toBe("first");
      expect(got.body.status).toBe("KEY_STATUS_REVOKED");
      // delete, then re-import succeeds with the same key_id and a fresh record
      expect((await req("DELETE", `${BASE}/${keyId}`)).status).toBe(204);
      const re = await req("POST", BASE, { raw_key: raw, name: "reborn", actor_id: actor("dup") });
      expect(re.status, re.text).toBe(201);
      expect(re.body.key_id).toBe(keyId);
      expect(re.body.name).toBe("reborn");
      expect(re.body.status).toBe("KEY_STATUS_ACTIVE");
    });

    it("request_id: replay → 200 with the stored resource (current state, no Location); different parameters → 409 conflict", async () => {
      const rid = randomUUID();
      const raw = newRaw();
      const who = actor("idem");
      const body = { raw_key: raw, name: "idem", actor_id: who, scopes: ["a"], ttl: "1h", request_id: rid, visibility: "KEY_VISIBILITY_SECRET" };
      const first = await req("POST", BASE, body);
      expect(first.status, first.text).toBe(201);
      expect(first.headers.get("location")).toBe(`${BASE}/${keyIdOf(raw)}`);

      // same parameters, spelled differently (camelCase, ttl in seconds, enum by number)
      const replay = await req("POST", BASE, { rawKey: raw, name: "idem", actorId: who, scopes: ["a"], ttl: "3600s", requestId: rid, visibility: 1 });
      expect(replay.status, replay.text).toBe(200);
      expect(replay.headers.get("location")).toBeNull();
      expect(replay.body).toEqual(first.body);

      // replay reflects the current state
      expect((await req("POST", `${BASE}/${first.body.key_id}:revoke`, { reason: "REVOCATION_REASON_KEY_COMPROMISE" })).status).toBe(204);
      const replay2 = await req("POST", BASE, body);
      expect(replay2.status).toBe(200);
      expect(replay2.body.status).toBe("KEY_STATUS_REVOKED");
      expect(replay2.body.revocation_reason).toBe("REVOCATION_REASON_KEY_COMPROMISE");
      expect(replay2.body.key_id).toBe(first.body.key_id);

      const conflict = "request_id was already used with different parameters";
      for (const change of [{ name: "other" }, { scopes: ["b"] }, { ttl: "2h" }, { raw_key: newRaw() }, { actor_id: actor("idem") }, { visibility: "KEY_VISIBILITY_PUBLIC" }, { metadata: {} }]) {
        const res = await req("POST", BASE, { ...body, ...change });
        expectError(res, 409, "ALREADY_EXISTS", "CONFLICT", conflict);
      }
      // the import namespace is separate from the issue namespace
      const issued = await req("POST", "/v2alpha1/admin/issuedApiKeys", { name: "idem", actor_id: who, request_id: rid });
      expect(issued.status, issued.text).toBe(201);
      // a request_id used with a raw key that is a duplicate of another key: 409 duplicate, and the id stays unused
      const other = await imp();
      const rid2 = randomUUID();
      expectError(await req("POST", BASE, { raw_key: other.raw, name: "d", actor_id: who, request_id: rid2 }), 409, "ALREADY_EXISTS", "API_KEY_EXISTS", DUPLICATE);
      const fresh = await req("POST", BASE, { raw_key: newRaw(), name: "d", actor_id: who, request_id: rid2 });
      expect(fresh.status, fresh.text).toBe(201);
    });

    it("concurrent imports with one request_id: exactly one 201, the others replay it", async () => {
      for (let round = 0; round < 4; round++) {
        const body = { raw_key: newRaw(), name: "race", actor_id: actor("race"), request_id: randomUUID() };
        const results = await Promise.all(Array.from({ length: 8 }, () => req("POST", BASE, body)));
        const statuses = results.map((r) => r.status).sort();
        expect(statuses, results.map((r) => r.text).join("\n")).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
        for (const r of results) expect(r.body).toEqual(results.find((x) => x.status === 201)!.body);
      }
    });

    it("concurrent imports of one raw key without request_id: exactly one 201, the others 409 api_key_exists", async () => {
      const raw = newRaw();
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => req("POST", BASE, { raw_key: raw, name: `c${i}`, actor_id: actor("race") })));
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 201)) expectError(r, 409, "ALREADY_EXISTS", "API_KEY_EXISTS", DUPLICATE);
    });
  });

  describe("routing", () => {
    it("wrong methods → 405 with Allow; near-miss paths → 404; percent-encoded ':' is matched", async () => {
      const { keyId } = await imp();
      const cases: [string, string, string[]][] = [
        ["PUT", BASE, ["GET", "POST"]],
        ["DELETE", BASE, ["GET", "POST"]],
        ["GET", `${BASE}:batchCreate`, ["POST"]],
        ["PUT", `${BASE}/${keyId}`, ["GET", "PATCH", "DELETE"]],
        ["GET", `${BASE}/${keyId}:revoke`, ["POST"]],
      ];
      for (const [method, path, allowed] of cases) {
        const r = await req(method, path);
        expectError(r, 405, "UNIMPLEMENTED", "METHOD_NOT_ALLOWED");
        const allow = (r.headers.get("allow") ?? "").split(",").map((m) => m.trim());
        for (const m of allowed) expect(allow, `${method} ${path}`).toContain(m);
      }
      for (const path of [`${BASE}/`, `/v2alpha1/admin/ImportedApiKeys/${keyId}`, `${BASE}/${keyId}/extra`, `${BASE}:batchcreate`]) {
        expectError(await req("GET", path), 404, "NOT_FOUND", "NOT_FOUND");
      }
      expect((await req("POST", `${BASE}/${keyId}%3Arevoke`, {})).status).toBe(204);
      expect((await req("GET", `${BASE}/${keyId}`)).body.status).toBe("KEY_STATUS_REVOKED");
    });
  });

  describe("get", () => {
    it("returns the key; 404 for unknown and wrong-shaped ids and for issued key ids", async () => {
      const { keyId, key } = await imp({ scopes: ["s"] });
      const got = await req("GET", `${BASE}/${keyId}`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual(key);
      const issued = await issue();
      const wrong = [
        keyIdOf(newRaw()), // unknown, well-formed
        keyId.toUpperCase(),
        keyId.slice(0, 63),
        `${keyId}0`,
        keyId.replace(/^./, "g"),
        issued.keyId, // a UUID on the imported path
        randomUUID(),
        "x",
      ];
      for (const id of wrong) expectNotFound(await req("GET", `${BASE}/${id}`));
      // and the imported id on the issued path
      expectNotFound(await req("GET", `/v2alpha1/admin/issuedApiKeys/${keyId}`));
      // HEAD behaves like GET without a body
      const head = await req("HEAD", `${BASE}/${keyId}`);
      expect(head.status).toBe(200);
      expect(head.text).toBe("");
    });
  });

  describe("list", () => {
    it("filters by actor_id and status, orders by key_id, pages with tokens", async () => {
      const who = actor("list");
      const keys: Awaited<ReturnType<typeof imp>>[] = [];
      for (let i = 0; i < 5; i++) keys.push(await imp({ actor_id: who, name: `l${i}`, ttl: i === 4 ? "1h" : "48h" }));
      // an issued key of the same actor never shows up in the imported list
      await issue({ actor_id: who });
      const all = keys.map((k) => k.keyId).sort();
      const f = (expr: string) => encodeURIComponent(expr);

      const whole = await req("GET", `${BASE}?filter=${f(`actor_id="${who}"`)}`);
      expect(whole.status).toBe(200);
      expect(whole.body.imported_api_keys.map((k: { key_id: string }) => k.key_id)).toEqual(all);
      expect(whole.body.next_page_token).toBe("");
      expect(Object.keys(whole.body.imported_api_keys[0]).sort()).toEqual(KEY_FIELDS);

      // pages of 2: 2 + 2 + 1, then "" (page_size and pageSize / pageToken spellings)
      const seen: string[] = [];
      let token = "";
      const pages: number[] = [];
      for (let i = 0; i < 5; i++) {
        const q = i % 2 === 0 ? `page_size=2&page_token=${f(token)}` : `pageSize=2&pageToken=${f(token)}`;
        const page = await req("GET", `${BASE}?filter=${f(`actor_id="${who}"`)}&${q}`);
        expect(page.status, page.text).toBe(200);
        pages.push(page.body.imported_api_keys.length);
        seen.push(...page.body.imported_api_keys.map((k: { key_id: string }) => k.key_id));
        token = page.body.next_page_token;
        if (!token) break;
      }
      expect(pages).toEqual([2, 2, 1]);
      expect(seen).toEqual(all);

      // status filters
      await req("POST", `${BASE}/${keys[0]!.keyId}:revoke`, {});
      const byStatus = async (status: string) => {
        const r = await req("GET", `${BASE}?filter=${f(`actor_id = "${who}" AND status = ${status}`)}`);
        expect(r.status, r.text).toBe(200);
        return r.body.imported_api_keys.map((k: { key_id: string }) => k.key_id);
      };
      expect(await byStatus("KEY_STATUS_REVOKED")).toEqual([keys[0]!.keyId]);
      expect(await byStatus("KEY_STATUS_ACTIVE")).toEqual(all.filter((k) => k !== keys[0]!.keyId));
      expect(await byStatus("KEY_STATUS_EXPIRED")).toEqual([]);
      offset += 2 * HOUR;
      try {
        expect(await byStatus('"KEY_STATUS_EXPIRED"')).toEqual([keys[4]!.keyId]);
        expect(await byStatus("KEY_STATUS_ACTIVE")).toEqual(all.filter((k) => k !== keys[0]!.keyId && k !== keys[4]!.keyId));
      } finally {
        offset -= 2 * HOUR;
      }
    });

    it("rejects bad page tokens, filters and page sizes with 400", async () => {
      const who = actor("tok");
      for (let i = 0; i < 3; i++) await imp({ actor_id: who });
      const f = (expr: string) => encodeURIComponent(expr);
      const first = await req("GET", `${BASE}?page_size=1&filter=${f(`actor_id="${who}"`)}`);
      const token = first.body.next_page_token as string;
      expect(token).not.toBe("");
      // same token, different filter
      const other = await req("GET", `${BASE}?page_size=1&page_token=${f(token)}&filter=${f(`actor_id="${who}x"`)}`);
      expectBadToken(other, "page token does not match the request");
      const noFilter = await req("GET", `${BASE}?page_size=1&page_token=${f(token)}`);
      expectBadToken(noFilter, "page token does not match the request");
      // an imported-list token on the issued list
      const issuedList = await req("GET", `/v2alpha1/admin/issuedApiKeys?page_size=1&page_token=${f(token)}&filter=${f(`actor_id="${who}"`)}`);
      expectBadToken(issuedList, "page token does not match the request");
      // tampered and garbage tokens
      const flipped = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
      expectBadToken(await req("GET", `${BASE}?page_token=${f(flipped)}&filter=${f(`actor_id="${who}"`)}`), "invalid page token");
      expectBadToken(await req("GET", `${BASE}?page_token=garbage`), "invalid page token");
      // page_size may change between pages
      const rest = await req("GET", `${BASE}?page_size=10&page_token=${f(token)}&filter=${f(`actor_id="${who}"`)}`);
      expect(rest.status).toBe(200);
      expect(rest.body.imported_api_keys).toHaveLength(2);
      for (const size of ["abc", "1.5", "2x"]) expectBadRequest(await req("GET", `${BASE}?page_size=${size}`), "page_size");
      for (const bad of [`actor_id="${who}" OR status=KEY_STATUS_ACTIVE`, `name="x"`, `actor_id="a" AND actor_id="b"`, "status=KEY_STATUS_UNKNOWN", `actor_id!="x"`, `(actor_id="x")`, `actor_id="x" and status=KEY_STATUS_ACTIVE`]) {
        expectBadRequest(await req("GET", `${BASE}?filter=${f(bad)}`), "filter");
      }
      // page_size ≤ 0 means the default
      const dflt = await req("GET", `${BASE}?page_size=0&filter=${f(`actor_id="${who}"`)}`);
      expect(dflt.status).toBe(200);
      expect(dflt.body.imported_api_keys).toHaveLength(3);
    });
  });

  describe("update", () => {
    it("bare body without mask writes the present fields and ignores immutable ones", async () => {
      const { keyId, key } = await imp({ name: "before", scopes: ["a"], metadata: { v: 1 } });
      offset += 1000;
      try {
        const res = await req("PATCH", `${BASE}/${keyId}`, {
          name: "after",
          scopes: ["x", "y"],
          rate_limit_policy: { quota: 10, window: "60s" },
          ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] },
          metadata: null, // null is ignored without a mask
          actor_id: "someone-else",
          key_id: "f".repeat(64),
          visibility: "KEY_VISIBILITY_PUBLIC",
          status: "KEY_STATUS_REVOKED",
          expire_time: "2000-01-01T00:00:00Z",
        });
        expect(res.status, res.text).toBe(200);
        expect(res.body).toMatchObject({
          key_id: keyId,
          name: "after",
          scopes: ["x", "y"],
          metadata: { v: 1 },
          actor_id: key.actor_id,
          rate_limit_policy: { quota: "10", window: "60s", unit: "" },
          ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] },
          visibility: key.visibility,
          status: "KEY_STATUS_ACTIVE",
          expire_time: key.expire_time,
          create_time: key.create_time,
        });
        expect(ms(res.body.update_time)).toBeGreaterThan(ms(key.update_time));
        expect((await req("GET", `${BASE}/${keyId}`)).body).toEqual(res.body);
      } finally {
        offset -= 1000;
      }
    });

    it("wrapped bodies (imported_api_key and importedApiKey) win over top-level fields", async () => {
      for (const wrapper of ["imported_api_key", "importedApiKey"]) {
        const { keyId } = await imp({ name: "w0", scopes: ["keep"] });
        const res = await req("PATCH", `${BASE}/${keyId}`, { [wrapper]: { name: `via-${wrapper}`, rateLimitPolicy: { quota: "7", window: "2s" } }, name: "ignored", scopes: ["ignored"] });
        expect(res.status, res.text).toBe(200);
        expect(res.body.name).toBe(`via-${wrapper}`);
        expect(res.body.scopes).toEqual(["keep"]);
        expect(res.body.rate_limit_policy).toEqual({ quota: "7", window: "2s", unit: "" });
        // validation errors inside the wrapper name the wrapped path
        const bad = await req("PATCH", `${BASE}/${keyId}`, { [wrapper]: { scopes: [""] } });
        expectBadRequest(bad, "imported_api_key.scopes[0]");
      }
    });

    it("update_mask writes exactly the masked fields; absent masked fields are cleared", async () => {
      const { keyId } = await imp({
        name: "m",
        scopes: ["a"],
        metadata: { k: "v" },
        rate_limit_policy: { quota: 3, window: "10s" },
        ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] },
      });
      const p = (mask: string, body: unknown) => req("PATCH", `${BASE}/${keyId}?${mask}`, body);
      let r = await p("update_mask=name", { name: "n2", scopes: ["not-written"] });
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ name: "n2", scopes: ["a"], metadata: { k: "v" } });
      r = await p("updateMask=metadata,rateLimitPolicy", { name: "not-written" });
      expect(r.body).toMatchObject({ name: "n2", metadata: null, rate_limit_policy: null, ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] } });
      r = await p("update_mask=scopes&update_mask=ip_restriction", { scopes: ["b", "c"] });
      expect(r.body).toMatchObject({ scopes: ["b", "c"], ip_restriction: null });
      r = await p("update_mask=name,scopes", {});
      expect(r.body).toMatchObject({ name: "", scopes: [] });
      r = await p("update_mask=ip_restriction", { ip_restriction: { allowed_cidrs: ["192.168.1.0/24"] } });
      expect(r.body.ip_restriction).toEqual({ allowed_cidrs: ["192.168.1.0/24"] });
      r = await p("update_mask=ip_restriction", { ip_restriction: { allowed_cidrs: [] } });
      expect(r.body.ip_restriction).toBeNull();
      for (const bad of ["actor_id", "rate_limit_policy.quota", "expire_time", "visibility", "status", "key_id", "name,owner"]) {
        expectBadRequest(await p(`update_mask=${encodeURIComponent(bad)}`, { name: "x" }), "update_mask");
      }
      // nothing was written by the rejected masks
      expect((await req("GET", `${BASE}/${keyId}`)).body.name).toBe("");
    });

    it("nothing to apply → 200 unchanged without a write; validation as on import; revoked → 409; unknown → 404", async () => {
      const { keyId, key } = await imp({ name: "same", scopes: ["s"] });
      offset += 1000;
      try {
        const same = await req("PATCH", `${BASE}/${keyId}`, { name: "same", scopes: ["s"] });
        expect(same.status).toBe(200);
        expect(same.body).toEqual(key);
        const empty = await req("PATCH", `${BASE}/${keyId}`);
        expect(empty.status).toBe(200);
        expect(empty.body).toEqual(key);
      } finally {
        offset -= 1000;
      }
      expectBadRequest(await req("PATCH", `${BASE}/${keyId}`, { rate_limit_policy: { quota: 0, window: "60s" } }), "rate_limit_policy.quota");
      expectBadRequest(await req("PATCH", `${BASE}/${keyId}`, { name: "n".repeat(257) }), "name");
      expectBadRequest(await req("PATCH", `${BASE}/${keyId}`, { metadata: { big: "x".repeat(5000) } }), "metadata");
      expectBadRequest(await req("PATCH", `${BASE}/${keyId}`, { ip_restriction: { allowed_cidrs: ["1.2.3.4"] } }), "ip_restriction.allowed_cidrs[0]");
      expectError(await req("PATCH", `${BASE}/${keyId}`, "nope"), 400, "INVALID_ARGUMENT", "BAD_REQUEST");

      // expired keys may be updated
      const exp = await imp({ ttl: "1h" });
      offset += 2 * HOUR;
      try {
        const r = await req("PATCH", `${BASE}/${exp.keyId}`, { name: "late" });
        expect(r.status, r.text).toBe(200);
        expect(r.body).toMatchObject({ name: "late", status: "KEY_STATUS_EXPIRED" });
      } finally {
        offset -= 2 * HOUR;
      }

      expect((await req("POST", `${BASE}/${keyId}:revoke`, {})).status).toBe(204);
      expectError(await req("PATCH", `${BASE}/${keyId}`, { name: "x" }), 409, "FAILED_PRECONDITION", "FAILED_PRECONDITION", "cannot update a revoked key");
      expect((await req("GET", `${BASE}/${keyId}`)).body.name).toBe("same");

      const issued = await issue();
      for (const id of [keyIdOf(newRaw()), keyId.toUpperCase(), keyId.slice(1), issued.keyId]) {
        expectNotFound(await req("PATCH", `${BASE}/${id}`, { name: "x" }));
      }
      // the issued key was not touched through the imported path
      const issuedNow = await req("GET", `/v2alpha1/admin/issuedApiKeys/${issued.keyId}`);
      expect(issuedNow.body.name).toBe("i");
    });

    it("an update is visible to the next verify (cache evicted)", async () => {
      const { raw, keyId } = await imp({ scopes: ["old"] });
      expect((await verify(raw)).body.scopes).toEqual(["old"]);
      const cached = await verify(raw);
      expect(cached.headers.get("ory-talos-cache")).toBe("HIT");
      expect((await req("PATCH", `${BASE}/${keyId}`, { scopes: ["new"] })).status).toBe(200);
      expect((await verify(raw)).body.scopes).toEqual(["new"]);
    });
  });

  describe("revoke", () => {
    it("revokes with reason and description rules; 409 on repeat; verify answers REVOKED at once", async () => {
      const { raw, keyId, key } = await imp({ scopes: ["r"] });
      expect((await verify(raw)).body.is_valid).toBe(true); // cached now
      const bad = await req("POST", `${BASE}/${keyId}:revoke`, { reason: "REVOCATION_REASON_KEY_COMPROMISE", description: "why" });
      expectBadRequest(bad, "description");
      expectBadRequest(await req("POST", `${BASE}/${keyId}:revoke`, { description: "no reason" }), "description");
      expectBadRequest(await req("POST", `${BASE}/${keyId}:revoke`, { reason: "REVOCATION_REASON_PRIVILEGE_WITHDRAWN", description: "d".repeat(1025) }), "description");
      expectBadRequest(await req("POST", `${BASE}/${keyId}:revoke`, { reason: "REVOCATION_REASON_BORED" }), "reason");
      expectBadRequest(await req("POST", `${BASE}/${keyId}:revoke`, { reason: 9 }), "reason");
      expect((await req("GET", `${BASE}/${keyId}`)).body.status).toBe("KEY_STATUS_ACTIVE");

      offset += 1000;
      try {
        const res = await req("POST", `${BASE}/${keyId}:revoke`, { reason: "REVOCATION_REASON_PRIVILEGE_WITHDRAWN", description: "d".repeat(1024) });
        expect(res.status, res.text).toBe(204);
        expect(res.text).toBe("");
      } finally {
        offset -= 1000;
      }
      const got = (await req("GET", `${BASE}/${keyId}`)).body;
      expect(got).toMatchObject({
        status: "KEY_STATUS_REVOKED",
        revocation_reason: "REVOCATION_REASON_PRIVILEGE_WITHDRAWN",
        revocation_description: "d".repeat(1024),
        expire_time: key.expire_time,
      });
      expect(ms(got.update_time)).toBeGreaterThan(ms(key.update_time));

      const v = await verify(raw);
      expect(v.body).toMatchObject({ is_valid: false, error_code: "VERIFICATION_ERROR_REVOKED", status: "KEY_STATUS_UNSPECIFIED", key_id: keyId });

      for (const again of [{}, { reason: 1 }]) {
        expectError(await req("POST", `${BASE}/${keyId}:revoke`, again), 409, "ALREADY_EXISTS", "CONFLICT", "key is already revoked");
      }
      // the stored reason did not change
      expect((await req("GET", `${BASE}/${keyId}`)).body.revocation_reason).toBe("REVOCATION_REASON_PRIVILEGE_WITHDRAWN");
    });

    it("reason absent → UNSPECIFIED; numeric reasons; empty body allowed", async () => {
      const a = await imp();
      expect((await req("POST", `${BASE}/${a.keyId}:revoke`)).status).toBe(204);
      expect((await req("GET", `${BASE}/${a.keyId}`)).body).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_UNSPECIFIED", revocation_description: "" });
      const b = await imp();
      expect((await req("POST", `${BASE}/${b.keyId}:revoke`, { reason: 2 })).status).toBe(204);
      expect((await req("GET", `${BASE}/${b.keyId}`)).body.revocation_reason).toBe("REVOCATION_REASON_AFFILIATION_CHANGED");
      const c = await imp();
      expect((await req("POST", `${BASE}/${c.keyId}:revoke`, { reason: "REVOCATION_REASON_SUPERSEDED", description: "" })).status).toBe(204);
      expect((await req("GET", `${BASE}/${c.keyId}`)).body.revocation_reason).toBe("REVOCATION_REASON_SUPERSEDED");
    });

    it("the /apiKeys/{key_id}:revoke alias dispatches a 64-hex id to imported keys", async () => {
      const { raw, keyId } = await imp();
      const alias = (id: string, body: unknown = {}) => req("POST", `/v2alpha1/admin/apiKeys/${id}:revoke`, body);
      expectBadRequest(await alias(keyId, { description: "x" }), "description");
      expect((await alias(keyId, { reason: "REVOCATION_REASON_KEY_COMPROMISE" })).status).toBe(204);
      expect((await req("GET", `${BASE}/${keyId}`)).body).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_KEY_COMPROMISE" });
      expect((await verify(raw)).body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
      expectError(await alias(keyId), 409, "ALREADY_EXISTS", "CONFLICT", "key is already revoked");
      expectError(await req("POST", `${BASE}/${keyId}:revoke`), 409, "ALREADY_EXISTS", "CONFLICT", "key is already revoked");

      const other = await imp();
      for (const id of [keyIdOf(newRaw()), other.keyId.toUpperCase(), other.keyId.slice(0, 63), `${other.keyId}a`, "not-an-id"]) {
        expectNotFound(await alias(id));
      }
      expect((await req("GET", `${BASE}/${other.keyId}`)).body.status).toBe("KEY_STATUS_ACTIVE");
      // issued ids still go to issued keys through the alias
      const issued = await issue();
      expect((await alias(issued.keyId.toUpperCase())).status).toBe(204);
      expect((await verify(issued.secret)).body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    });

    it("404 for unknown and wrong-shaped ids on the imported path; an issued key is not revoked through it", async () => {
      const issued = await issue();
      const k = await imp();
      for (const id of [keyIdOf(newRaw()), k.keyId.toUpperCase(), k.keyId.slice(0, 63), issued.keyId, issued.keyId.toUpperCase()]) {
        expectNotFound(await req("POST", `${BASE}/${id}:revoke`, {}));
      }
      expectNotFound(await req("POST", `/v2alpha1/admin/issuedApiKeys/${k.keyId}:revoke`, {}));
      expect((await verify(issued.secret)).body.is_valid).toBe(true);
      expect((await verify(k.raw)).body.is_valid).toBe(true);
    });
  });

  describe("delete", () => {
    it("hard-deletes in any state: 204, then 404 everywhere, verify NOT_FOUND, re-import allowed", async () => {
      const { raw, keyId } = await imp({ name: "del" });
      expect((await verify(raw)).body.is_valid).toBe(true); // cached
      const res = await req("DELETE", `${BASE}/${keyId}`);
      expect(res.status).toBe(204);
      expect(res.text).toBe("");
      expectNotFound(await req("GET", `${BASE}/${keyId}`));
      expectNotFound(await req("DELETE", `${BASE}/${keyId}`));
      expectNotFound(await req("PATCH", `${BASE}/${keyId}`, { name: "x" }));
      expectNotFound(await req("POST", `${BASE}/${keyId}:revoke`, {}));
      expect((await verify(raw)).body).toEqual(NOT_FOUND_BODY);
      const re = await req("POST", BASE, { raw_key: raw, name: "again", actor_id: actor("del") });
      expect(re.status).toBe(201);
      expect(re.body.key_id).toBe(keyId);

      // revoked and expired keys can be deleted too
      const revoked = await imp();
      await req("POST", `${BASE}/${revoked.keyId}:revoke`, {});
      expect((await req("DELETE", `${BASE}/${revoked.keyId}`)).status).toBe(204);
      const expired = await imp({ ttl: "1h" });
      offset += 2 * HOUR;
      try {
        expect((await req("DELETE", `${BASE}/${expired.keyId}`)).status).toBe(204);
      } finally {
        offset -= 2 * HOUR;
      }
      expectNotFound(await req("GET", `${BASE}/${expired.keyId}`));
    });

    it("404 for wrong-shaped ids and issued key ids; there is no delete for issued keys", async () => {
      const k = await imp();
      const issued = await issue();
      for (const id of [k.keyId.toUpperCase(), k.keyId.slice(0, 63), `${k.keyId}0`, issued.keyId, keyIdOf(newRaw())]) {
        expectNotFound(await req("DELETE", `${BASE}/${id}`));
      }
      expect((await req("GET", `${BASE}/${k.keyId}`)).status).toBe(200);
      const issuedDelete = await req("DELETE", `/v2alpha1/admin/issuedApiKeys/${issued.keyId}`);
      expectError(issuedDelete, 405, "UNIMPLEMENTED", "METHOD_NOT_ALLOWED");
      expect(issuedDelete.headers.get("allow")).toContain("GET");
      expect((await verify(issued.secret)).body.is_valid).toBe(true);
    });
  });

  describe("verify", () => {
    it("valid imported key: every field of the response, cache MISS then HIT", async () => {
      const who = actor("v");
      const { raw, keyId, key } = await imp({ actor_id: who, scopes: ["a", "b"], metadata: { plan: "pro" }, visibility: "KEY_VISIBILITY_PUBLIC" });
      const v = await verify(raw);
      expect(v.status).toBe(200);
      expect(v.body).toEqual({
        is_valid: true,
        status: "KEY_STATUS_ACTIVE",
        key_id: keyId,
        actor_id: who,
        scopes: ["a", "b"],
        expire_time: key.expire_time,
        metadata: { plan: "pro" },
        rate_limit_policy: null,
        visibility: "KEY_VISIBILITY_PUBLIC",
        issuer: TEST_ISSUER,
        error_code: "VERIFICATION_ERROR_UNSPECIFIED",
        error_message: "",
        rate_limit_remaining: "0",
        rate_limit_reset_time: null,
      });
      expect(v.headers.get("ory-talos-cache")).toBe("MISS");
      expect(v.headers.get("cache-control")).toBeNull();
      const hit = await verify(raw);
      expect(hit.headers.get("ory-talos-cache")).toBe("HIT");
      expect(hit.body).toEqual(v.body);
      expect((await verify(raw, { "Cache-Control": "no-cache" })).headers.get("ory-talos-cache")).toBe("SKIP");
      // last_used_time is written asynchronously (flush interval 100 ms in tests)
      const used = await poll(
        () => req("GET", `${BASE}/${keyId}`),
        (r) => r.body.last_used_time !== null,
      );
      expect(used.body.last_used_time).not.toBeNull();
      expect(Math.abs(ms(used.body.last_used_time) - clock())).toBeLessThan(60_000);
    });

    it("REVOKED and EXPIRED carry the key's fields; status per docs/verification.md#verification-error-codes", async () => {
      const who = actor("state");
      const r = await imp({ actor_id: who, scopes: ["x"], metadata: { m: 1 }, rate_limit_policy: { quota: 5, window: "60s" } });
      await req("POST", `${BASE}/${r.keyId}:revoke`, { reason: 1 });
      const revoked = await verify(r.raw);
      expect(revoked.body).toEqual({
        is_valid: false,
        status: "KEY_STATUS_UNSPECIFIED",
        key_id: r.keyId,
        actor_id: who,
        scopes: ["x"],
        expire_time: r.key.expire_time,
        metadata: { m: 1 },
        rate_limit_policy: null,
        visibility: "KEY_VISIBILITY_UNSPECIFIED",
        issuer: "",
        error_code: "VERIFICATION_ERROR_REVOKED",
        error_message: revoked.body.error_message,
        rate_limit_remaining: "0",
        rate_limit_reset_time: null,
      });
      expect(revoked.body.error_message).not.toBe("");

      const e = await imp({ actor_id: who, ttl: "1h", scopes: ["y"] });
      offset += HOUR + 1000;
      try {
        const expired = await verify(e.raw);
        expect(expired.body).toMatchObject({
          is_valid: false,
          status: "KEY_STATUS_EXPIRED",
          key_id: e.keyId,
          actor_id: who,
          scopes: ["y"],
          expire_time: e.key.expire_time,
          error_code: "VERIFICATION_ERROR_EXPIRED",
          visibility: "KEY_VISIBILITY_UNSPECIFIED",
          issuer: "",
          rate_limit_policy: null,
        });
      } finally {
        offset -= HOUR + 1000;
      }
      // exactly at expire_time it is expired already (expire_time ≤ now); a millisecond before, it is not
      try {
        frozenAt = ms(e.key.expire_time);
        expect((await verify(e.raw, { "Cache-Control": "no-store" })).body.error_code).toBe("VERIFICATION_ERROR_EXPIRED");
        frozenAt = ms(e.key.expire_time) - 1;
        expect((await verify(e.raw, { "Cache-Control": "no-store" })).body.is_valid).toBe(true);
      } finally {
        frozenAt = null;
      }
      expect((await verify(e.raw)).body.is_valid).toBe(true);
    });

    it("NOT_FOUND: unknown imported credentials look exactly like garbage issued-looking ones (anti-enumeration)", async () => {
      const unknown = await verify(newRaw());
      expect(unknown.status).toBe(200);
      expect(unknown.body).toEqual(NOT_FOUND_BODY);
      const now = Math.floor(clock() / 1000);
      const garbage = [
        mintIssuedKey({ prefix: "ory_ak", secret: "not-the-server-secret-0123456789abcdef", keyId: randomUUID(), unixSeconds: now }),
        mintIssuedKey({ prefix: "acme", secret: TEST_SECRET, keyId: randomUUID(), unixSeconds: now }),
        mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: randomUUID(), unixSeconds: now }), // valid checksum, no record
        "x",
        "a".repeat(8192),
      ];
      for (const g of garbage) {
        const res = await verify(g);
        expect(res.status).toBe(200);
        expect(res.body, g.slice(0, 40)).toEqual(unknown.body);
      }
      // a deleted key and a well-known raw key that was never imported: same body
      const d = await imp();
      await req("DELETE", `${BASE}/${d.keyId}`);
      expect((await verify(d.raw)).body).toEqual(NOT_FOUND_BODY);
      // not-found results are never cached
      const raw = newRaw();
      expect((await verify(raw)).headers.get("ory-talos-cache")).toBe("MISS");
      await req("POST", BASE, { raw_key: raw, name: "late", actor_id: actor("late") });
      expect((await verify(raw)).body.is_valid).toBe(true);
    });

    it("IP allowlist on an imported key: allowed peers pass (also IPv4-mapped IPv6), others get IP_NOT_ALLOWED with key fields and no-store", async () => {
      const who = actor("ip");
      const { raw, keyId, key } = await imp({ actor_id: who, scopes: ["net"], metadata: { ip: true }, ip_restriction: { allowed_cidrs: ["10.0.0.0/8", "2001:db8::/32"] } });
      for (const ip of ["10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1"]) {
        const ok = await verify(raw, {}, ip);
        expect(ok.body.is_valid, ip).toBe(true);
        expect(ok.headers.get("cache-control")).toBe("no-store");
      }
      for (const ip of ["192.168.0.1", "::ffff:192.168.0.1", "2001:db9::1", "127.0.0.1", "garbage"]) {
        const denied = await verify(raw, {}, ip);
        expect(denied.status).toBe(200);
        expect(denied.headers.get("cache-control"), ip).toBe("no-store");
        expect(denied.body, ip).toEqual({
          is_valid: false,
          status: "KEY_STATUS_UNSPECIFIED",
          key_id: keyId,
          actor_id: who,
          scopes: ["net"],
          expire_time: key.expire_time,
          metadata: { ip: true },
          rate_limit_policy: null,
          visibility: "KEY_VISIBILITY_UNSPECIFIED",
          issuer: "",
          error_code: "VERIFICATION_ERROR_IP_NOT_ALLOWED",
          error_message: denied.body.error_message,
          rate_limit_remaining: "0",
          rate_limit_reset_time: null,
        });
      }
      // forwarded headers are ignored with the default client_ip_source (socket peer)
      const spoof = await verify(raw, { "X-Forwarded-For": "10.0.0.1", "X-Real-IP": "10.0.0.1" }, "192.168.0.1");
      expect(spoof.body.error_code).toBe("VERIFICATION_ERROR_IP_NOT_ALLOWED");
    });

    it("rate limit applies to imported keys (GCRA, headers, RATE_LIMITED fields)", async () => {
      const { raw, keyId } = await imp({ rate_limit_policy: { quota: 2, window: "60s" } });
      const now = (Math.floor(clock() / 1000) + 1) * 1000; // a whole second, after the key's create_time
      frozenAt = now; // T = 30 s; the three requests happen at the same instant
      try {
        const a = await verify(raw);
        expect(a.body).toMatchObject({ is_valid: true, rate_limit_remaining: "1", rate_limit_policy: { quota: "2", window: "60s", unit: "" } });
        expect(ms(a.body.rate_limit_reset_time)).toBe(now + 30_000);
        expect(a.headers.get("ratelimit-policy")).toBe('"default";q=2;w=60');
        expect(a.headers.get("ratelimit")).toBe('"default";r=1;t=30');
        expect(a.headers.get("cache-control")).toBe("no-store");
        const b = await verify(raw);
        expect(b.body.rate_limit_remaining).toBe("0");
        expect(b.headers.get("ratelimit")).toBe('"default";r=0;t=60');
        const c = await verify(raw);
        expect(c.body).toMatchObject({
          is_valid: false,
          key_id: keyId,
          error_code: "VERIFICATION_ERROR_RATE_LIMITED",
          error_message: "rate limit exceeded",
          rate_limit_policy: { quota: "2", window: "60s", unit: "" },
          rate_limit_remaining: "0",
        });
        expect(ms(c.body.rate_limit_reset_time)).toBe(now + 60_000);
        expect(c.headers.get("retry-after")).toBe("30");
        expect(c.headers.get("ratelimit")).toBe('"default";r=0;t=60');
        frozenAt = now + 29_999;
        expect((await verify(raw)).headers.get("retry-after")).toBe("1");
        frozenAt = now + 30_000; // one emission interval later, one request is admitted again
        expect((await verify(raw)).body).toMatchObject({ is_valid: true, rate_limit_remaining: "0" });
      } finally {
        frozenAt = null;
      }
    });

    it("request shape errors are 400: missing or empty credential → credential_required, > 8192 chars → bad_request", async () => {
      expectError(await req("POST", VERIFY, {}), 400, "INVALID_ARGUMENT", "CREDENTIAL_REQUIRED", "credential is required");
      expectError(await req("POST", VERIFY, { credential: "" }), 400, "INVALID_ARGUMENT", "CREDENTIAL_REQUIRED");
      expectBadRequest(await req("POST", VERIFY, { credential: "k".repeat(8193) }), "credential");
    });
  });

  describe("batch verify", () => {
    it("mixes issued, imported and invalid credentials: results in order, at most one lookup per key type", async () => {
      const who = actor("bv");
      const issued = await issue({ actor_id: who, scopes: ["i"] });
      const a = await imp({ actor_id: who, scopes: ["a"] });
      const b = await imp({ actor_id: who, scopes: ["b"] });
      const revoked = await imp({ actor_id: who });
      await req("POST", `${BASE}/${revoked.keyId}:revoke`, {});
      const badIssued = mintIssuedKey({ prefix: "ory_ak", secret: "not-the-server-secret-0123456789abcdef", keyId: randomUUID(), unixSeconds: Math.floor(clock() / 1000) });
      const credentials = [a.raw, issued.secret, "", newRaw(), badIssued, b.raw, revoked.raw, a.raw, "mc_v1_garbage"];

      const repo = s.built.store.repo;
      const calls: { method: string; ids: number }[] = [];
      const originals = { getKey: repo.getKey, getKeys: repo.getKeys, getKeyForUpdate: repo.getKeyForUpdate };
      repo.getKey = (nid, id) => (calls.push({ method: "getKey", ids: 1 }), originals.getKey(nid, id));
      repo.getKeyForUpdate = (nid, id) => (calls.push({ method: "getKeyForUpdate", ids: 1 }), originals.getKeyForUpdate(nid, id));
      repo.getKeys = (nid, ids) => (calls.push({ method: "getKeys", ids: ids.length }), originals.getKeys(nid, ids));
      let res: TestResponse;
      try {
        res = await req("POST", BATCH_VERIFY, { requests: credentials.map((credential) => ({ credential })) }, { "Cache-Control": "no-cache" });
      } finally {
        Object.assign(repo, originals);
      }
      expect(res.status, res.text).toBe(200);
      // at most one query per key type (the implementation needs one for both, they share a table)
      expect(calls.length).toBeGreaterThanOrEqual(1);
      expect(calls.length).toBeLessThanOrEqual(2);
      expect(calls.every((c) => c.method === "getKeys")).toBe(true);
      expect(res.headers.get("ory-talos-cache")).toBe("SKIP");
      for (const h of ["ratelimit", "ratelimit-policy", "retry-after", "cache-control"]) expect(res.headers.get(h)).toBeNull();

      const r = res.body.results;
      expect(r).toHaveLength(credentials.length);
      expect(r.map((x: { error_code: string }) => x.error_code)).toEqual([
        "VERIFICATION_ERROR_UNSPECIFIED",
        "VERIFICATION_ERROR_UNSPECIFIED",
        "VERIFICATION_ERROR_INVALID_FORMAT",
        "VERIFICATION_ERROR_NOT_FOUND",
        "VERIFICATION_ERROR_NOT_FOUND",
        "VERIFICATION_ERROR_UNSPECIFIED",
        "VERIFICATION_ERROR_REVOKED",
        "VERIFICATION_ERROR_UNSPECIFIED",
        r[8].error_code, // a macaroon-shaped token: decided by the token verifier, never a key lookup
      ]);
      expect(r[8].is_valid).toBe(false);
      expect(r.map((x: { key_id: string }) => x.key_id).slice(0, 8)).toEqual([a.keyId, issued.keyId, "", "", "", b.keyId, revoked.keyId, a.keyId]);
      expect(r[0].scopes).toEqual(["a"]);
      expect(r[1].scopes).toEqual(["i"]);
      expect(r[5].scopes).toEqual(["b"]);
      expect(r[2]).toMatchObject({ is_valid: false, error_message: "credential is required", key_id: "" });
      expect(r[3]).toEqual(NOT_FOUND_BODY);
      expect(r[4]).toEqual(NOT_FOUND_BODY);
      // each item is computed exactly as a single verify
      for (const i of [0, 1, 3, 4, 5, 6]) {
        const single = await req("POST", VERIFY, { credential: credentials[i] }, { "Cache-Control": "no-store" });
        expect(single.body, `item ${i}`).toEqual(r[i]);
      }
    });

    it("served from the cache: no database lookups at all for cached imported and issued keys", async () => {
      const issued = await issue();
      const a = await imp();
      const body = { requests: [{ credential: a.raw }, { credential: issued.secret }] };
      const warm = await req("POST", BATCH_VERIFY, body);
      expect(warm.headers.get("ory-talos-cache")).toBe("MISS");
      const repo = s.built.store.repo;
      const originals = { getKey: repo.getKey, getKeys: repo.getKeys };
      let lookups = 0;
      repo.getKey = (nid, id) => (lookups++, originals.getKey(nid, id));
      repo.getKeys = (nid, ids) => (lookups++, originals.getKeys(nid, ids));
      try {
        const hot = await req("POST", BATCH_VERIFY, body);
        expect(hot.headers.get("ory-talos-cache")).toBe("HIT");
        expect(hot.body.results.map((x: { is_valid: boolean }) => x.is_valid)).toEqual([true, true]);
      } finally {
        Object.assign(repo, originals);
      }
      expect(lookups).toBe(0);
    });

    it("request shape errors: 0 or > 100 items, an item over 8192 chars", async () => {
      expectError(await req("POST", BATCH_VERIFY, { requests: [] }), 400, "INVALID_ARGUMENT", "BAD_REQUEST");
      expectError(await req("POST", BATCH_VERIFY, {}), 400, "INVALID_ARGUMENT", "BAD_REQUEST");
      expectError(await req("POST", BATCH_VERIFY, { requests: Array.from({ length: 101 }, () => ({ credential: "x" })) }), 400, "INVALID_ARGUMENT", "BAD_REQUEST");
      const long = await req("POST", BATCH_VERIFY, { requests: [{ credential: "ok" }, { credential: "k".repeat(8193) }] });
      expectBadRequest(long, "requests[1].credential");
      const hundred = await req("POST", BATCH_VERIFY, { requests: Array.from({ length: 100 }, () => ({ credential: newRaw() })) });
      expect(hundred.status).toBe(200);
      expect(hundred.body.results).toHaveLength(100);
      for (const x of hundred.body.results) expect(x).toEqual(NOT_FOUND_BODY);
    });
  });

  describe("self-revoke of imported keys (public surface)", () => {
    it(shared ? "a public-mode process on the same PostgreSQL database revokes it; the admin process sees it" : "an all-in-one server revokes it", async () => {
      const { raw, keyId } = await imp({ name: "self" });
      // warm the admin cache so the revocation must be propagated (PostgreSQL: LISTEN/NOTIFY)
      expect((await verify(raw)).body.is_valid).toBe(true);
      expect((await verify(raw)).headers.get("ory-talos-cache")).toBe("HIT");

      const res = await pubReq("POST", SELF_REVOKE, { credential: raw, reason: "REVOCATION_REASON_KEY_COMPROMISE" });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({});
      const got = await req("GET", `${BASE}/${keyId}`);
      expect(got.body).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_KEY_COMPROMISE", revocation_description: "" });
      const v = await poll(
        () => verify(raw),
        (r) => r.body.error_code === "VERIFICATION_ERROR_REVOKED",
      );
      expect(v.body.error_code).toBe("VERIFICATION_ERROR_REVOKED");

      // idempotent: 200 again, stored reason unchanged
      const again = await pubReq("POST", SELF_REVOKE, { credential: raw, reason: "REVOCATION_REASON_AFFILIATION_CHANGED" });
      expect(again.status).toBe(200);
      expect(again.body).toEqual({});
      expect((await req("GET", `${BASE}/${keyId}`)).body.revocation_reason).toBe("REVOCATION_REASON_KEY_COMPROMISE");
    });

    it("reason absent → UNSPECIFIED; expired keys can be self-revoked; IP restriction does not apply", async () => {
      const a = await imp({ ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] } });
      const r = await pubReq("POST", SELF_REVOKE, { credential: a.raw }, {}, "203.0.113.9");
      expect(r.status, r.text).toBe(200);
      expect((await req("GET", `${BASE}/${a.keyId}`)).body).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_UNSPECIFIED" });

      const e = await imp({ ttl: "1h" });
      offset += 2 * HOUR;
      try {
        expect((await pubReq("POST", SELF_REVOKE, { credential: e.raw, reason: 2 })).status).toBe(200);
        expect((await req("GET", `${BASE}/${e.keyId}`)).body).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_AFFILIATION_CHANGED" });
      } finally {
        offset -= 2 * HOUR;
      }
    });

    it("errors: unknown → 404, empty → credential_required, PRIVILEGE_WITHDRAWN → 400, derived tokens → 400", async () => {
      const k = await imp();
      expectNotFound(await pubReq("POST", SELF_REVOKE, { credential: newRaw() }));
      expectNotFound(await pubReq("POST", SELF_REVOKE, { credential: k.keyId })); // the key_id is not the credential
      expectError(await pubReq("POST", SELF_REVOKE, {}), 400, "INVALID_ARGUMENT", "CREDENTIAL_REQUIRED", "credential is required");
      expectError(await pubReq("POST", SELF_REVOKE, { credential: "" }), 400, "INVALID_ARGUMENT", "CREDENTIAL_REQUIRED", "credential is required");
      expectError(
        await pubReq("POST", SELF_REVOKE, { credential: k.raw, reason: "REVOCATION_REASON_PRIVILEGE_WITHDRAWN" }),
        400,
        "INVALID_ARGUMENT",
        "BAD_REQUEST",
        "PRIVILEGE_WITHDRAWN is not allowed for self-revocation",
      );
      expectError(await pubReq("POST", SELF_REVOKE, { credential: k.raw, reason: 4 }), 400, "INVALID_ARGUMENT", "BAD_REQUEST");
      expectError(await pubReq("POST", SELF_REVOKE, { credential: "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln" }), 400, "INVALID_ARGUMENT", "DERIVED_TOKEN_NOT_REVOCABLE");
      expectError(await pubReq("POST", SELF_REVOKE, { credential: "mc_v1_abc" }), 400, "INVALID_ARGUMENT", "DERIVED_TOKEN_NOT_REVOCABLE");
      expectBadRequest(await pubReq("POST", SELF_REVOKE, { credential: "c".repeat(8193) }), "credential");
      // none of that touched the key
      expect((await req("GET", `${BASE}/${k.keyId}`)).body.status).toBe("KEY_STATUS_ACTIVE");
    });

    if (shared) it("surfaces are split: the public process serves no admin route, the admin process no selfRevoke", async () => {
      expectError(await pubReq("POST", BASE, { raw_key: newRaw(), name: "n", actor_id: "a" }), 404, "NOT_FOUND", "NOT_FOUND");
      expectError(await pubReq("POST", VERIFY, { credential: "x" }), 404, "NOT_FOUND", "NOT_FOUND");
      expectError(await req("POST", SELF_REVOKE, { credential: "x" }), 404, "NOT_FOUND", "NOT_FOUND");
    });
  });

  describe("secrecy", () => {
    it("the raw key is never returned and never stored (stored record fields, and a raw scan on PostgreSQL)", async () => {
      const raw = newRaw();
      const rid = randomUUID();
      const checkedBefore = checked.n;
      const body = { raw_key: raw, name: "secret", actor_id: actor("secret"), scopes: ["s"], metadata: { note: "n" }, request_id: rid };
      const created = await req("POST", BASE, body);
      expect(created.status).toBe(201);
      expect((await req("POST", BASE, body)).status).toBe(200);
      expect((await req("POST", BASE, { ...body, name: "different" })).status).toBe(409); // request_id conflict
      expect((await req("POST", BASE, { ...body, request_id: undefined })).status).toBe(409); // duplicate
      expect((await req("POST", BATCH_VERIFY, { requests: [{ credential: raw }] })).body.results[0].is_valid).toBe(true);
      expect((await req("POST", VERIFY, { credential: raw })).body.is_valid).toBe(true);
      expect((await pubReq("POST", SELF_REVOKE, { credential: raw })).status).toBe(200);
      const b = await req("POST", "/v2alpha1/admin/importedApiKeys:batchCreate", { requests: [body, { ...body, request_id: undefined }] });
      expect(b.body.results.map((r: { error_code: string }) => r.error_code)).toEqual([
        "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_UNSPECIFIED",
        "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_ALREADY_EXISTS",
      ]);

      // every response of this suite (all servers) is searched for every raw key sent so far
      expect(checked.n - checkedBefore).toBe(8);
      expect(rawKeys.has(raw)).toBe(true);

      // the stored record of this key (every column, mapped) does not contain it
      const rec = await s.built.store.repo.getKey(NIL, keyIdOf(raw));
      expect(rec).not.toBeNull();
      expect(rec!.keyId).toBe(keyIdOf(raw));
      expect(rec!.requestFingerprint).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(rec)).not.toContain(raw);

      // every stored imported record of this database: no raw key anywhere
      const all = await s.built.store.repo.listKeys(NIL, { kind: "imported", limit: 100_000, now: clock() });
      expect(all.map((r) => r.keyId)).toContain(keyIdOf(raw));
      const dump = JSON.stringify(all);
      for (const r of rawKeys) expect(dump.includes(r)).toBe(false);

      if (shared) {
        // raw scan of every table in the database
        const sql = postgres(s.config.db.dsn, { max: 1, onnotice: () => {} });
        try {
          const tables = await sql<{ schema: string; name: string }[]>`
            select table_schema as schema, table_name as name from information_schema.tables
            where table_schema not in ('pg_catalog', 'information_schema') and table_type = 'BASE TABLE'`;
          expect(tables.map((t) => t.name)).toContain("api_keys");
          let rows = 0;
          for (const t of tables) {
            const out = await sql.unsafe(`select t::text as row from "${t.schema}"."${t.name}" t`);
            for (const { row } of out as unknown as { row: string }[]) {
              rows++;
              for (const r of rawKeys) expect(row.includes(r), `${t.schema}.${t.name}`).toBe(false);
            }
          }
          expect(rows).toBeGreaterThan(0);
        } finally {
          await sql.end();
        }
      }
    });
  });
});

describe("logging", () => {
  // one extra server, on PostgreSQL when available (cheaper to start than another embedded database)
  const where = testDatabases().at(-1)!;
  it(`no log record contains a raw key, even when the database fails with the key in its error (${where.name})`, async () => {
    const records: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
    const rec = (level: string) => (obj: object, msg?: string) => void records.push({ level, obj: obj as Record<string, unknown>, msg });
    const logger: Logger = { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
    const database = await where.create();
    const { config } = loadConfig({
      env: {},
      overrides: { "db.dsn": database.dsn, "secrets.hmac.current": TEST_SECRET, "credentials.issuer": TEST_ISSUER, "last_used.flush_interval": "100ms", "log.level": "debug" },
    });
    // the same wiring as `talos serve`, with a recording logger (request log included, as serve.ts does)
    const built = await createServer(config, { logger, migrate: true, observeRequest: (q) => logger.info({ ...q }, "HTTP request completed") });
    const app = built.app("all");
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await app.request(path, { method, body: body === undefined ? undefined : JSON.stringify(body) }, { incoming: { socket: { remoteAddress: "127.0.0.1" } } });
      return { status: res.status, text: await res.text() };
    };
    const raws = Array.from({ length: 4 }, () => newRaw());
    try {
      const rid = randomUUID();
      expect((await call("POST", BASE, { raw_key: raws[0], name: "log", actor_id: "log", request_id: rid })).status).toBe(201);
      expect((await call("POST", BASE, { raw_key: raws[0], name: "log", actor_id: "log", request_id: rid })).status).toBe(200);
      expect((await call("POST", BASE, { raw_key: raws[0], name: "other", actor_id: "log", request_id: rid })).status).toBe(409);
      expect((await call("POST", BASE, { raw_key: raws[0], name: "log", actor_id: "log" })).status).toBe(409);
      expect((await call("POST", BASE, { raw_key: raws[1], name: "", actor_id: "log" })).status).toBe(400);
      const b = await call("POST", `${BASE}:batchCreate`, { requests: [{ raw_key: raws[2], name: "b", actor_id: "log" }, { raw_key: raws[2], name: "b", actor_id: "log" }, { raw_key: raws[1], actor_id: "log" }] });
      expect(b.status).toBe(200);
      expect((await call("POST", VERIFY, { credential: raws[0] })).status).toBe(200);
      expect((await call("POST", BATCH_VERIFY, { requests: [{ credential: raws[2] }, { credential: raws[3] }] })).status).toBe(200);
      expect((await call("POST", SELF_REVOKE, { credential: raws[2] })).status).toBe(200);
      expect((await call("POST", SELF_REVOKE, { credential: raws[3] })).status).toBe(404);
      expect((await call("DELETE", `${BASE}/${keyIdOf(raws[0]!)}`)).status).toBe(204);

      // a driver error that carries the raw key (as bound parameters would) reaches neither the log nor the client
      const repo = built.store.repo;
      const orig = repo.getKeys; // verify reads through the coalescing key reader (getKeys)
      repo.getKeys = async () => {
        throw new Error(`driver failure near ${raws[3]}`);
      };
      try {
        const v = await call("POST", VERIFY, { credential: raws[3] });
        expect(v.status).toBe(200);
        expect(JSON.parse(v.text).error_code).toBe("VERIFICATION_ERROR_INTERNAL");
        expect(v.text).not.toContain(raws[3]);
      } finally {
        repo.getKeys = orig;
      }
      // an import without request_id is one INSERT on the pool, with one in a transaction
      const origTx = built.store.transaction;
      const origInsert = repo.insertKey;
      (built.store as { transaction: typeof origTx }).transaction = async () => {
        throw new Error(`insert failed for ${raws[3]}`);
      };
      repo.insertKey = async () => {
        throw new Error(`insert failed for ${raws[3]}`);
      };
      try {
        for (const body of [
          { raw_key: raws[3], name: "x", actor_id: "log" },
          { raw_key: raws[3], name: "x", actor_id: "log", request_id: randomUUID() },
        ]) {
          const imp = await call("POST", BASE, body);
          expect(imp.status).toBe(500);
          expect(JSON.parse(imp.text).error.message).toBe("An internal server error occurred.");
          expect(imp.text).not.toContain(raws[3]);
        }
      } finally {
        (built.store as { transaction: typeof origTx }).transaction = origTx;
        repo.insertKey = origInsert;
      }
      await built.runtime.lastUsed.flush(); // the last-used flush runs (and would log) now, not on its timer
    } finally {
      await built.close();
      await database.drop();
    }
    // the recorder saw the traffic: audit events by key_id, request lines, the unhandled error
    const audited = (event: string, keyId: string) => records.some((r) => r.obj.event === event && Object.values(r.obj).includes(keyId));
    expect(audited("APIKeyCreated", keyIdOf(raws[0]!))).toBe(true);
    expect(audited("APIKeyCreated", keyIdOf(raws[2]!))).toBe(true);
    expect(audited("APIKeyRevoked", keyIdOf(raws[2]!))).toBe(true);
    expect(records.filter((r) => r.msg === "HTTP request completed").length).toBeGreaterThanOrEqual(13);
    expect(records.some((r) => r.level === "error")).toBe(true);
    const dump = JSON.stringify(records);
    for (const raw of raws) expect(dump.includes(raw)).toBe(false);
  });
});
