import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VERSION } from "@talos/core";
import { startOn, testDatabases, type TestResponse, type TestServer } from "../support/harness.js";
import {
  BATCH_VERIFY,
  ISSUED,
  SECURITY_HEADERS,
  SELF_REVOKE,
  UUID_V4,
  VERIFY,
  expectBadRequest,
  expectEnvelope,
  expectSecurityHeaders,
  issue,
  signingJwksUrl,
} from "../support/http-expect.js";

const MiB4 = 4 * 1024 * 1024;
const REFERENCE_OPENAPI = new URL("../fixtures/reference/talos-openapi.json", import.meta.url);

/** A JSON object of exactly `bytes` bytes: {"credential":"abc","pad":"xxx…"} */
function jsonOfSize(bytes: number): string {
  const base = '{"credential":"abc","pad":""}';
  return base.replace('"pad":""', `"pad":"${"x".repeat(bytes - base.length)}"`);
}

/** fixed, so test names are stable */
const SOME_UUID = "0b9e8f3c-52a1-4c0e-9d7a-6f1e2d3c4b5a";

describe.each(testDatabases())("HTTP plumbing on $name", (db) => {
  let s: TestServer;
  beforeAll(async () => {
    // with a signing key, derive answers like the other endpoints instead of 500 "no signing key"
    s = await startOn(db, { overrides: { "credentials.derived_tokens.jwt.signing_keys.urls": [signingJwksUrl("plumbing")] } });
  });
  afterAll(() => s?.close());

  const post = (path: string, body: unknown, headers?: Record<string, string>) => s.request("POST", path, body, headers);

  describe("routing", () => {
    it.each([
      ["GET", "/nope"],
      ["GET", "/"],
      ["GET", "/v2alpha1/admin/issuedApiKeys/"],
      ["POST", "/v2alpha1/admin/issuedApiKeys/"],
      ["GET", "/V2alpha1/admin/issuedApiKeys"],
      ["GET", "/v2alpha1/admin/IssuedApiKeys"],
      ["POST", "/v2alpha1/admin/apiKeys:Verify"],
      ["POST", "/v2alpha1/admin/apiKeys:verify/"],
      ["GET", "/health/alive/"],
      ["GET", `/v2alpha1/admin/issuedApiKeys/${SOME_UUID}/extra`],
      ["GET", "/v2alpha1/admin/derivedKeys/jwks.json"],
      ["POST", "/v2/admin/issuedApiKeys"],
      ["GET", "/v2alpha1/admin/issuedApiKeys/%E0%A4%A"],
    ])("unknown route %s %s → 404 not_found", async (method, path) => {
      const res = await s.request(method, path, method === "POST" ? {} : undefined);
      expectEnvelope(res, 404, "NOT_FOUND", "NOT_FOUND");
      expect(res.headers.get("allow")).toBeNull();
    });

    it.each([
      ["DELETE", ISSUED, ["GET", "POST"]],
      ["PUT", ISSUED, ["GET", "POST"]],
      ["GET", VERIFY, ["POST"]],
      ["DELETE", `${ISSUED}/${SOME_UUID}`, ["GET", "PATCH"]],
      ["GET", `${ISSUED}/${SOME_UUID}:rotate`, ["POST"]],
      ["POST", "/health/alive", ["GET"]],
      ["PATCH", "/v2alpha1/derivedKeys/jwks.json", ["GET"]],
    ])("wrong method %s %s → 405 with Allow", async (method, path, allowed) => {
      const res = await s.request(method, path, method === "GET" ? undefined : {});
      expectEnvelope(res, 405, "UNIMPLEMENTED", "METHOD_NOT_ALLOWED");
      const allow = res.headers.get("allow")!.split(",").map((m) => m.trim());
      for (const m of allowed) expect(allow).toContain(m);
      expect(allow).not.toContain(method);
      expectSecurityHeaders(res);
    });

    it("HEAD on a GET route behaves like GET without a body", async () => {
      const { key } = await issue(s, { name: "head" });
      for (const path of ["/health/alive", "/version", `${ISSUED}/${key.key_id}`]) {
        const get = await s.request("GET", path);
        const head = await s.request("HEAD", path);
        expect(head.status).toBe(get.status);
        expect(head.status).toBe(200);
        expect(head.text).toBe("");
        expect(head.headers.get("content-type")).toBe(get.headers.get("content-type"));
        expectSecurityHeaders(head);
      }
      const missing = await s.request("HEAD", `${ISSUED}/${randomUUID()}`);
      expect(missing.status).toBe(404);
      expect(missing.text).toBe("");
      const postOnly = await s.request("HEAD", VERIFY);
      expect(postOnly.status).toBe(405);
      expect(postOnly.headers.get("allow")).toBe("POST");
    });

    it("path segments are percent-decoded before matching", async () => {
      const { key, secret } = await issue(s, {});
      for (const path of ["/v2alpha1/admin/apiKeys%3Averify", "/v2alpha1/admin/apiKeys%3averify", "/v2alpha1/admin/%61piKeys:verify"]) {
        const res = await post(path, { credential: secret });
        expect(res.status, path).toBe(200);
        expect(res.body.is_valid).toBe(true);
      }
      const get = await s.request("GET", `/v2alpha1/admin/%69ssuedApiKeys/${key.key_id.replace("-", "%2D")}`);
      expect(get.status).toBe(200);
      expect(get.body.key_id).toBe(key.key_id);
      const rot = await post(`${ISSUED}/${key.key_id}%3Arotate`, {});
      expect(rot.status, rot.text).toBe(201);
    });

    it("/health/alive, /health/ready and /version", async () => {
      for (const path of ["/health/alive", "/health/ready"]) {
        const res = await s.request("GET", path);
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: "ok" });
        expect(res.headers.get("content-type")).toMatch(/^application\/json/);
        expectSecurityHeaders(res);
      }
      const v = await s.request("GET", "/version");
      expect(v.status).toBe(200);
      expect(v.body).toEqual({ version: VERSION });
      expect(VERSION).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/);
    });
  });

  describe("request bodies", () => {
    it("malformed JSON → 400", async () => {
      for (const body of ["{", '{"name": }', "{'name':'x'}", '{"name":"x"} trailing', "\u0000"]) {
        expectBadRequest(await post(ISSUED, body), undefined, /JSON/);
      }
    });

    it("a body that is not an object → 400", async () => {
      for (const body of ["[]", '[{"name":"x"}]', '"x"', "5", "true", "null"]) {
        expectBadRequest(await post(ISSUED, body), undefined, "request body must be a JSON object");
        expectBadRequest(await post(VERIFY, body));
      }
    });

    it("an empty body is treated as {}", async () => {
      for (const body of [undefined, "", "  \n\t "]) {
        const res = await post(ISSUED, body);
        expect(res.status, res.text).toBe(201);
        expect(res.body.issued_api_key.name).toBe("");
      }
      // and {} on verify means the credential is missing
      expectEnvelope(await post(VERIFY, ""), 400, "INVALID_ARGUMENT", "CREDENTIAL_REQUIRED");
    });

    it("a body of 4 MiB + 1 byte → 413 RESOURCE_EXHAUSTED; exactly 4 MiB is accepted", async () => {
      const exact = jsonOfSize(MiB4);
      expect(Buffer.byteLength(exact)).toBe(MiB4);
      const ok = await post(VERIFY, exact);
      expect(ok.status).toBe(200);
      expect(ok.body.error_code).toBe("VERIFICATION_ERROR_NOT_FOUND");
      const tooBig = await post(VERIFY, `${exact} `, { "X-Request-ID": "big-one" });
      expectEnvelope(tooBig, 413, "RESOURCE_EXHAUSTED", "REQUEST_TOO_LARGE");
      expect(tooBig.headers.get("x-request-id")).toBe("big-one");
      expectSecurityHeaders(tooBig);
      expectEnvelope(await post(ISSUED, "x".repeat(MiB4 + 1)), 413, "RESOURCE_EXHAUSTED", "REQUEST_TOO_LARGE");
    });

    it("Content-Type is not enforced", async () => {
      const res = await post(ISSUED, JSON.stringify({ name: "ct" }), { "Content-Type": "text/plain" });
      expect(res.status, res.text).toBe(201);
      expect(res.body.issued_api_key.name).toBe("ct");
    });

    it("a body nested absurdly deep → 400, not a crash", async () => {
      const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
      expectBadRequest(await post(BATCH_VERIFY, `{"requests":${deep(20000)}}`), undefined, /deeper than/);
      expectBadRequest(await post(ISSUED, `{"metadata":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}`), undefined, /deeper than/);
      // reasonable nesting inside metadata is fine
      const ok = await post(ISSUED, { metadata: JSON.parse(`${'{"a":'.repeat(50)}1${"}".repeat(50)}`) });
      expect(ok.status, ok.text).toBe(201);
    });
  });

  describe("protojson decoding", () => {
    it("accepts lowerCamelCase names everywhere, including nested messages", async () => {
      const rid = randomUUID();
      const { key } = await issue(s, {
        actorId: "camel",
        rateLimitPolicy: { quota: "9", window: "9s" },
        ipRestriction: { allowedCidrs: ["10.0.0.0/8"] },
        requestId: rid,
      });
      expect(key).toMatchObject({
        actor_id: "camel",
        rate_limit_policy: { quota: "9", window: "9s", unit: "" },
        ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] },
      });
      expect((await post(ISSUED, { actor_id: "camel", rate_limit_policy: { quota: 9, window: "9s" }, ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] }, request_id: rid })).status).toBe(200);
      const batch = await post(BATCH_VERIFY, { requests: [{ credential: "" }] });
      expect(batch.status).toBe(200);
    });

    it("the same field in both spellings → 400 naming it", async () => {
      expectBadRequest(await post(ISSUED, { actor_id: "a", actorId: "b" }), "actor_id");
      expectBadRequest(await post(ISSUED, { requestId: "a", request_id: "a" }), "request_id");
      expectBadRequest(await post(ISSUED, { ip_restriction: { allowed_cidrs: [], allowedCidrs: [] } }), "ip_restriction.allowed_cidrs");
    });

    it("leaves Struct keys (metadata) exactly as given", async () => {
      const { key } = await issue(s, { metadata: { fooBar: 1, foo_bar: 2, "Weird Key": { innerCamel: true } } });
      expect(key.metadata).toEqual({ fooBar: 1, foo_bar: 2, "Weird Key": { innerCamel: true } });
    });

    it("ignores unknown fields and treats null as absent", async () => {
      const { key } = await issue(s, { name: "u", bogus: 1, nested: { deep: [1] }, ttl: null, rate_limit_policy: null, ip_restriction: null, metadata: null });
      expect(key).toMatchObject({ name: "u", rate_limit_policy: null, ip_restriction: null, metadata: null });
      const v = await post(VERIFY, { credential: "garbage", extra: { x: 1 } });
      expect(v.status).toBe(200);
    });

    it("enums by name or number; unknown names and out-of-range numbers → 400 naming the field", async () => {
      expect((await issue(s, { visibility: 1 })).key.visibility).toBe("KEY_VISIBILITY_SECRET");
      expect((await issue(s, { visibility: "KEY_VISIBILITY_SECRET" })).key.visibility).toBe("KEY_VISIBILITY_SECRET");
      for (const visibility of ["SECRET", "key_visibility_secret", 3, -1, 1.5, true, {}, "1"]) {
        expectBadRequest(await post(ISSUED, { visibility }), "visibility");
      }
      const { key } = await issue(s, {});
      for (const reason of ["KEY_COMPROMISE", 5, -1, 2.5, []]) {
        expectBadRequest(await post(`${ISSUED}/${key.key_id}:revoke`, { reason }), "reason");
      }
    });

    it("int64 quota as string or number; unsafe or non-integer values → 400", async () => {
      for (const [quota, out] of [
        ["100", "100"],
        [100, "100"],
        ["9007199254740991", "9007199254740991"],
        [9007199254740991, "9007199254740991"],
      ] as const) {
        const { key } = await issue(s, { rate_limit_policy: { quota, window: "60s" } });
        expect(key.rate_limit_policy.quota).toBe(out);
      }
      for (const quota of ["9007199254740992", 9007199254740992, "1e3", 1.5, "1.0", "abc", "", 0, -1, "-1", " 5", true, null]) {
        expectBadRequest(await post(ISSUED, { rate_limit_policy: { quota, window: "60s" } }), "rate_limit_policy.quota");
      }
    });

    it.each([
      [{ name: 5 }, "name"],
      [{ name: ["x"] }, "name"],
      [{ actor_id: true }, "actor_id"],
      [{ actor_id: {} }, "actor_id"],
      [{ scopes: "a" }, "scopes"],
      [{ scopes: [1] }, "scopes[0]"],
      [{ scopes: ["ok", null] }, "scopes[1]"],
      [{ ttl: 60 }, "ttl"],
      [{ ttl: { seconds: 60 } }, "ttl"],
      [{ metadata: "x" }, "metadata"],
      [{ metadata: [1, 2] }, "metadata"],
      [{ metadata: 5 }, "metadata"],
      [{ rate_limit_policy: "x" }, "rate_limit_policy"],
      [{ rate_limit_policy: [] }, "rate_limit_policy"],
      [{ rate_limit_policy: { window: "60s" } }, "rate_limit_policy.quota"],
      [{ rate_limit_policy: { quota: 1 } }, "rate_limit_policy.window"],
      [{ rate_limit_policy: { quota: 1, window: 60 } }, "rate_limit_policy.window"],
      [{ rate_limit_policy: { quota: 1, window: "60s", unit: 5 } }, "rate_limit_policy.unit"],
      [{ ip_restriction: "10.0.0.0/8" }, "ip_restriction"],
      [{ ip_restriction: { allowed_cidrs: "10.0.0.0/8" } }, "ip_restriction.allowed_cidrs"],
      [{ ip_restriction: { allowed_cidrs: [10] } }, "ip_restriction.allowed_cidrs[0]"],
      [{ request_id: 5 }, "request_id"],
      [{ visibility: "PUBLIC" }, "visibility"],
      [{ visibility: {} }, "visibility"],
    ])("wrong type %j → 400 naming %s", async (body, field) => {
      const res = await post(ISSUED, body);
      const e = expectBadRequest(res, field);
      expect(e.message.startsWith(`${field}: `)).toBe(true);
    });

    it("length limits: name/actor_id 256 characters, 64 scopes of 1–128, metadata 4096 bytes, request_id 36", async () => {
      expect((await post(ISSUED, { name: "n".repeat(256), actor_id: "a".repeat(256) })).status).toBe(201);
      expect((await post(ISSUED, { name: "😀".repeat(256) })).status).toBe(201); // characters, not UTF-16 units
      expectBadRequest(await post(ISSUED, { name: "n".repeat(257) }), "name");
      expectBadRequest(await post(ISSUED, { name: "😀".repeat(257) }), "name");
      expectBadRequest(await post(ISSUED, { actor_id: "a".repeat(257) }), "actor_id");

      const scopes = Array.from({ length: 64 }, (_, i) => `s${i}`);
      expect((await post(ISSUED, { scopes })).status).toBe(201);
      expectBadRequest(await post(ISSUED, { scopes: [...scopes, "one-too-many"] }), "scopes");
      expect((await post(ISSUED, { scopes: ["x".repeat(128)] })).status).toBe(201);
      expectBadRequest(await post(ISSUED, { scopes: ["x".repeat(129)] }), "scopes[0]");
      expectBadRequest(await post(ISSUED, { scopes: ["ok", ""] }), "scopes[1]");

      const meta = (bytes: number) => ({ k: "v".repeat(bytes - '{"k":""}'.length) });
      expect(Buffer.byteLength(JSON.stringify(meta(4096)))).toBe(4096);
      expect((await post(ISSUED, { metadata: meta(4096) })).status).toBe(201);
      expectBadRequest(await post(ISSUED, { metadata: meta(4097) }), "metadata");
      // bytes, not characters: 2000 × "é" is 4000 bytes of UTF-8 plus the key
      expectBadRequest(await post(ISSUED, { metadata: { k: "é".repeat(2100) } }), "metadata");

      expect((await post(ISSUED, { request_id: "r".repeat(36) })).status).toBe(201);
      expectBadRequest(await post(ISSUED, { request_id: "r".repeat(37) }), "request_id");
      expectBadRequest(await post(ISSUED, { rate_limit_policy: { quota: 1, window: "1s", unit: "u".repeat(65) } }), "rate_limit_policy.unit");
    });

    it("text that storage cannot hold (NUL, lone surrogates) → 400, not 500", async () => {
      for (const [body, field] of [
        [{ name: "a\u0000b" }, "name"],
        [{ actor_id: "\u0000" }, "actor_id"],
        [{ scopes: ["ok", "x\u0000"] }, "scopes[1]"],
        [{ metadata: { k: "v\u0000" } }, "metadata"],
        [{ metadata: { "k\u0000": 1 } }, "metadata"],
        [{ metadata: { list: [{ deep: "\ud800" }] } }, "metadata"],
        [{ name: "\udfff" }, "name"],
        [{ request_id: "r\u0000" }, "request_id"],
        [{ rate_limit_policy: { quota: 1, window: "1s", unit: "\u0000" } }, "rate_limit_policy.unit"],
      ] as const) {
        expectBadRequest(await post(ISSUED, body), field);
      }
      const { key } = await issue(s, {});
      expectBadRequest(await post(`${ISSUED}/${key.key_id}:revoke`, { reason: 4, description: "\u0000" }), "description");
      expectBadRequest(await s.request("PATCH", `${ISSUED}/${key.key_id}`, { name: "\u0000" }), "name");
      // well-formed astral characters are fine
      const ok = await issue(s, { name: "𝒜😀", metadata: { "ключ": "值" } });
      expect(ok.key).toMatchObject({ name: "𝒜😀", metadata: { "ключ": "值" } });
    });

    it.each([["10.0.0.0"], ["10.0.0.0/33"], ["garbage"], ["2001:db8::/129"], ["10.0.0.0/-1"], [""], ["10.0.0.0/8/8"], ["300.0.0.0/8"]])(
      "bad CIDR %j → 400",
      async (cidr) => {
        expectBadRequest(await post(ISSUED, { ip_restriction: { allowed_cidrs: ["192.168.0.0/16", cidr] } }), "ip_restriction.allowed_cidrs[1]");
      },
    );

    it("at most 64 CIDRs; IPv4 and IPv6 CIDRs are stored as given", async () => {
      const cidrs = Array.from({ length: 64 }, (_, i) => `10.${i}.0.0/16`);
      expect((await post(ISSUED, { ip_restriction: { allowed_cidrs: cidrs } })).status).toBe(201);
      expectBadRequest(await post(ISSUED, { ip_restriction: { allowed_cidrs: [...cidrs, "11.0.0.0/8"] } }), "ip_restriction.allowed_cidrs");
      const { key } = await issue(s, { ip_restriction: { allowed_cidrs: ["2001:DB8::/32", "0.0.0.0/0", "::/0"] } });
      expect(key.ip_restriction.allowed_cidrs).toEqual(["2001:DB8::/32", "0.0.0.0/0", "::/0"]);
    });

    it.each([
      [{ ttl: "abc" }, "ttl"],
      [{ ttl: "-5s" }, "ttl"],
      [{ ttl: "400000000s" }, "ttl"],
      [{ ttl: "1.5" }, "ttl"],
      [{ rate_limit_policy: { quota: 1, window: "60" } }, "rate_limit_policy.window"],
      [{ rate_limit_policy: { quota: 1, window: "1m" } }, "rate_limit_policy.window"],
      [{ rate_limit_policy: { quota: 1, window: "0s" } }, "rate_limit_policy.window"],
      [{ rate_limit_policy: { quota: 1, window: "0.5s" } }, "rate_limit_policy.window"],
      [{ rate_limit_policy: { quota: 1, window: "-1s" } }, "rate_limit_policy.window"],
      [{ rate_limit_policy: { quota: 1, window: "315360001s" } }, "rate_limit_policy.window"],
      [{ rate_limit_policy: { quota: 1, window: "" } }, "rate_limit_policy.window"],
    ])("malformed duration %j → 400", async (body, field) => {
      expectBadRequest(await post(ISSUED, body), field);
    });
  });

  describe("headers", () => {
    it("echoes a valid X-Request-ID, on success and error responses alike", async () => {
      for (const id of ["a", "req-123_ABC.~!#$%&'*+^`|", "x".repeat(128)]) {
        for (const [method, path] of [
          ["GET", "/health/alive"],
          ["GET", "/nope"],
          ["DELETE", ISSUED],
        ] as const) {
          const res = await s.request(method, path, undefined, { "X-Request-ID": id });
          expect(res.headers.get("x-request-id"), `${method} ${path}`).toBe(id);
        }
      }
    });

    it("generates a UUID v4 when X-Request-ID is absent or not 1–128 visible ASCII characters", async () => {
      for (const headers of [{} as Record<string, string>, { "X-Request-ID": "x".repeat(129) }, { "X-Request-ID": "has space" }, { "X-Request-ID": "tab\there" }, { "X-Request-ID": "caf\u00e9" }, { "X-Request-ID": "del\u007f" }]) {
        const res = await s.request("GET", "/health/alive", undefined, headers);
        expect(res.headers.get("x-request-id")).toMatch(UUID_V4);
      }
      const a = await s.request("GET", "/health/alive");
      const b = await s.request("GET", "/health/alive");
      expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"));
    });

    it("sets every security header on success and error responses", async () => {
      const { key, secret } = await issue(s, {});
      const responses: [string, TestResponse][] = [
        ["201", await post(ISSUED, {})],
        ["200 get", await s.request("GET", `${ISSUED}/${key.key_id}`)],
        ["200 verify", await post(VERIFY, { credential: secret })],
        ["204", await post(`${ISSUED}/${key.key_id}:revoke`, {})],
        ["400", await post(ISSUED, "{")],
        ["404 route", await s.request("GET", "/nope")],
        ["404 key", await s.request("GET", `${ISSUED}/${randomUUID()}`)],
        ["405", await s.request("DELETE", ISSUED)],
        ["409", await post(`${ISSUED}/${key.key_id}:revoke`, {})],
        ["413", await post(VERIFY, "x".repeat(MiB4 + 1))],
        ["HEAD", await s.request("HEAD", "/health/ready")],
        ["openapi", await s.request("GET", "/openapi.json")],
      ];
      const statuses = responses.map(([, r]) => r.status);
      expect(statuses).toEqual([201, 200, 200, 204, 400, 404, 404, 405, 409, 413, 200, 200]);
      for (const [label, res] of responses) {
        for (const [k, v] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(k), `${k} on ${label}`).toBe(v);
        expect(res.headers.get("x-request-id"), label).toBeTruthy();
        if (res.text) expect(res.headers.get("content-type"), label).toMatch(/^application\/json/);
      }
    });

    it("the Authorization header is ignored", async () => {
      const res = await post(ISSUED, { name: "auth" }, { Authorization: "Bearer whatever" });
      expect(res.status).toBe(201);
    });
  });

  describe("OpenAPI document", () => {
    it("is OpenAPI 3.1 with the reference's operation ids on the same methods and paths", async () => {
      const res = await s.request("GET", "/openapi.json");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const doc = JSON.parse(res.text);
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
      expect(typeof doc.info?.title).toBe("string");
      expect(doc.info.version).toBe(VERSION);

      const norm = (p: string) => p.replace(/\{[a-z_]+\.key_id\}/g, "{key_id}");
      const opsOf = (d: { paths: Record<string, Record<string, { operationId?: string }>> }) => {
        const out = new Map<string, string>();
        for (const [path, ops] of Object.entries(d.paths)) {
          for (const [method, op] of Object.entries(ops)) {
            if (op && typeof op === "object" && op.operationId) {
              expect(out.has(op.operationId), `duplicate operationId ${op.operationId}`).toBe(false);
              out.set(op.operationId, `${method.toUpperCase()} ${norm(path)}`);
            }
          }
        }
        return out;
      };
      const ours = opsOf(doc);
      const reference = opsOf(JSON.parse(readFileSync(REFERENCE_OPENAPI, "utf8")));
      expect(reference.size).toBe(18);
      for (const [id, where] of reference) expect(ours.get(id), id).toBe(where);
    });

    it("is internally consistent: every $ref resolves, every operation has responses", async () => {
      const doc = (await s.request("GET", "/openapi.json")).body;
      const refs: string[] = [];
      const walk = (v: unknown) => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === "object") {
          for (const [k, x] of Object.entries(v)) {
            if (k === "$ref" && typeof x === "string") refs.push(x);
            else walk(x);
          }
        }
      };
      walk(doc);
      expect(refs.length).toBeGreaterThan(10);
      for (const ref of new Set(refs)) {
        const m = /^#\/components\/schemas\/(.+)$/.exec(ref);
        expect(m, ref).not.toBeNull();
        expect(doc.components.schemas[m![1]!], ref).toBeDefined();
      }
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses?: object }>>)) {
        expect(path.startsWith("/")).toBe(true);
        for (const [method, op] of Object.entries(ops)) {
          expect(["get", "post", "patch", "delete", "put"]).toContain(method);
          expect(Object.keys(op.responses ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
        }
      }
      for (const name of ["IssuedApiKey", "IssueApiKeyRequest", "VerifyApiKeyResponse", "ErrorEnvelope"]) expect(doc.components.schemas[name], name).toBeDefined();
    });
  });

  describe("robustness", () => {
    const uuid = randomUUID();
    const endpoints: [string, string][] = [
      ["POST", ISSUED],
      ["POST", VERIFY],
      ["POST", BATCH_VERIFY],
      ["POST", SELF_REVOKE],
      ["POST", "/v2alpha1/admin/importedApiKeys"],
      ["POST", "/v2alpha1/admin/importedApiKeys:batchCreate"],
      ["POST", "/v2alpha1/admin/apiKeys:derive"],
      ["PATCH", `${ISSUED}/${uuid}`],
      ["POST", `${ISSUED}/${uuid}:rotate`],
      ["POST", `${ISSUED}/${uuid}:revoke`],
      ["POST", `/v2alpha1/admin/apiKeys/${uuid}:revoke`],
    ];
    const deepArr = (n: number) => "[".repeat(n) + "]".repeat(n);
    const nasty = [
      "",
      "{",
      "[]",
      "null",
      "0",
      '"x"',
      "true",
      "{}",
      '{"__proto__":{"name":5},"name":"x"}',
      '{"constructor":{"prototype":{"x":1}}}',
      `{"requests":${deepArr(20000)}}`,
      `{"metadata":${'{"a":'.repeat(20000)}1${"}".repeat(20000)}}`,
      `{"rate_limit_policy":${'{"rate_limit_policy":'.repeat(20000)}1${"}".repeat(20000)}}`,
      '{"name":"\\ud800","scopes":["\\udfff"],"metadata":{"\\ud800":"\\udc00"}}',
      '{"name":"\\u0000","metadata":{"\\u0000":"\\u0000"},"request_id":"\\u0000","description":"\\u0000","reason":4}',
      '{"credential":"\\u0000","raw_key":"\\u0000","actor_id":"a","name":"n"}',
      '{"ttl":"9999999999999999999999h"}',
      '{"ttl":"1e400s"}',
      '{"rate_limit_policy":{"quota":"1e309","window":"1s"}}',
      '{"rate_limit_policy":{"quota":1e309,"window":"99999999999999999999999s"}}',
      '{"metadata":{"n":1e999}}',
      '{"visibility":1e400,"reason":-0}',
      '{"requests":[{"credential":{}}, null, 5, "x"]}',
      '{"requests":[{"credential":"x","credential":"y"}]}',
      '{"ip_restriction":{"allowed_cidrs":["::ffff:1.2.3.4/200","1.2.3.4/08","0x1.2.3.4/8"," 10.0.0.0/8"]}}',
      '{"issued_api_key":5,"issuedApiKey":{}}',
      '{"scopes":{"length":5},"name":{"toString":1}}',
      `{"credential":"${"x".repeat(8193)}"}`,
      `{"requests":[${Array.from({ length: 1001 }, () => '{"credential":"x"}').join(",")}]}`,
    ];

    it("never answers 5xx to nasty bodies", async () => {
      for (const body of nasty) {
        for (const [method, path] of endpoints) {
          const res = await s.request(method, path, body);
          expect(res.status, `${method} ${path} ${body.slice(0, 60)}`).toBeLessThan(500);
          if (res.status >= 400) expectEnvelope(res, res.status, res.body.error.status, res.body.error.details[0].reason);
        }
      }
    });

    it("never answers 5xx to nasty paths and query strings", async () => {
      const paths = [
        `${ISSUED}/%00`,
        `${ISSUED}/%00:rotate`,
        `${ISSUED}/%ZZ`,
        `${ISSUED}/%C0%AF`,
        `${ISSUED}/${"a".repeat(10000)}`,
        `/v2alpha1/admin/importedApiKeys/%00`,
        `/v2alpha1/admin/apiKeys/%00:revoke`,
        `${ISSUED}?page_size=1&page_size=2`,
        `${ISSUED}?page_token=${"A".repeat(100000)}`,
        `${ISSUED}?page_token=%00`,
        `${ISSUED}?filter=${encodeURIComponent(`actor_id="${"x".repeat(100000)}"`)}`,
        `${ISSUED}?filter=${encodeURIComponent('actor_id="\u0000"')}`,
        `${ISSUED}?filter=actor_id%3D%22%ED%A0%80%22`,
        `${ISSUED}?filter=%FF`,
        `${ISSUED}?page_size=%00`,
        `${ISSUED}/${uuid}?update_mask=%00`,
        `/${"x/".repeat(5000)}`,
      ];
      for (const path of paths) {
        for (const method of ["GET", "POST", "PATCH", "DELETE"]) {
          const res = await s.request(method, path, method === "GET" || method === "DELETE" ? undefined : {});
          expect(res.status, `${method} ${path.slice(0, 80)}`).toBeLessThan(500);
        }
      }
    });
  });
});
