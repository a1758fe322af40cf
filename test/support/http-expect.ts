import { generateKeyPairSync, randomUUID } from "node:crypto";
import { expect } from "vitest";
import { NIL_NID, keyRecord, type KeyRecord } from "@talos/core";
import type { TestResponse, TestServer } from "./harness.js";

/** Shared assertions and fixtures of the in-process HTTP suites (test/http). */

export const ISSUED = "/v2alpha1/admin/issuedApiKeys";
export const VERIFY = "/v2alpha1/admin/apiKeys:verify";
export const BATCH_VERIFY = "/v2alpha1/admin/apiKeys:batchVerify";
export const SELF_REVOKE = "/v2alpha1/apiKeys:selfRevoke";

/** docs/wire.md#headers: on every response. */
export const SECURITY_HEADERS: Record<string, string> = {
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "strict-origin-when-cross-origin",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
};

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const B58 = "[1-9A-HJ-NP-Za-km-z]";
export const SECRET_RE = (prefix = "ory_ak") => new RegExp(`^${prefix}_v1_${B58}{64}_${B58}{43,44}$`);

/** The 15 fields of IssuedApiKey / ImportedApiKey (docs/wire.md#api-key-resource), all always present. */
export const KEY_FIELDS = [
  "key_id",
  "name",
  "actor_id",
  "scopes",
  "status",
  "metadata",
  "create_time",
  "update_time",
  "expire_time",
  "last_used_time",
  "rate_limit_policy",
  "ip_restriction",
  "revocation_reason",
  "revocation_description",
  "visibility",
].sort();

/** docs/verification.md#verify-response: the exact NOT_FOUND body (no enumeration signal). */
export const NOT_FOUND_VERIFICATION = {
  is_valid: false,
  status: "KEY_STATUS_UNSPECIFIED",
  key_id: "",
  actor_id: "",
  scopes: [],
  expire_time: null,
  metadata: null,
  rate_limit_policy: null,
  visibility: "KEY_VISIBILITY_UNSPECIFIED",
  issuer: "",
  error_code: "VERIFICATION_ERROR_NOT_FOUND",
  error_message: "API key not found",
  rate_limit_remaining: "0",
  rate_limit_reset_time: null,
};

/** RFC 3339 as docs/wire.md#json-responses writes it: UTC, `Z`, no fraction when zero, else 3 digits. */
export const rfc3339 = (ms: number): string => {
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
};

/** A clock the test moves by hand; starts on a whole second so timestamps have no fraction. */
export function manualClock(startMs = Math.floor(Date.now() / 1000) * 1000) {
  const c = {
    now: startMs,
    read: () => c.now,
    tick(ms: number) {
      c.now += ms;
      return c.now;
    },
    /** moves to the next whole second (+ offset ms) */
    nextSecond(offsetMs = 0) {
      c.now = (Math.floor(c.now / 1000) + 1) * 1000 + offsetMs;
      return c.now;
    },
  };
  return c;
}

/** Asserts the AIP-193 envelope of docs/wire.md#error-envelope and returns it. */
export function expectEnvelope(
  res: TestResponse,
  code: number,
  status: string,
  reason: string,
  opts: { message?: string | RegExp; field?: string } = {},
) {
  expect(res.status, res.text).toBe(code);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const e = res.body?.error;
  expect(Object.keys(res.body ?? {})).toEqual(["error"]);
  expect(Object.keys(e).sort()).toEqual(["code", "details", "message", "status"]);
  expect(e.code).toBe(code);
  expect(e.status).toBe(status);
  expect(typeof e.message).toBe("string");
  expect(e.details).toHaveLength(1);
  const d = e.details[0];
  expect(d["@type"]).toBe("type.googleapis.com/google.rpc.ErrorInfo");
  expect(d.reason).toBe(reason);
  expect(d.domain).toBe("www.ory.com/talos");
  expect(typeof d.metadata).toBe("object");
  for (const v of Object.values(d.metadata)) expect(typeof v).toBe("string");
  if (typeof opts.message === "string") expect(e.message).toBe(opts.message);
  else if (opts.message) expect(e.message).toMatch(opts.message);
  if (opts.field !== undefined) expect(d.metadata.field).toBe(opts.field);
  return e as { code: number; message: string; status: string; details: { metadata: Record<string, string> }[] };
}

export const expectBadRequest = (res: TestResponse, field?: string, message?: string | RegExp) =>
  expectEnvelope(res, 400, "INVALID_ARGUMENT", "BAD_REQUEST", { field, message });

export const expectKeyNotFound = (res: TestResponse) =>
  expectEnvelope(res, 404, "NOT_FOUND", "API_KEY_NOT_FOUND", { message: "API key not found" });

export function expectSecurityHeaders(res: TestResponse): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) expect(res.headers.get(k), `${k} on ${res.status}`).toBe(v);
  expect(res.headers.get("x-request-id")).toBeTruthy();
}

/** POST issue and insist on 201; returns the key, its secret and the response. */
export async function issue(s: TestServer, body: Record<string, unknown> = {}) {
  const res = await s.request("POST", ISSUED, body);
  expect(res.status, res.text).toBe(201);
  return { key: res.body.issued_api_key, secret: res.body.secret as string, res };
}

export async function verify(s: TestServer, credential: string, headers: Record<string, string> = {}, remoteAddress?: string) {
  const res = await s.request("POST", VERIFY, { credential }, headers, remoteAddress);
  expect(res.status, res.text).toBe(200);
  return res;
}

/** A unique actor id per test, so tests never see each other's keys. */
export const actor = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

/** A stored issued-key row for bulk fixtures written straight through the repository. */
export function issuedRecord(over: Partial<KeyRecord> & { actorId: string }, nowMs: number): KeyRecord {
  return keyRecord({ nid: NIL_NID, kind: "issued", keyId: randomUUID(), expireTime: new Date(nowMs + 86_400_000), ...over }, new Date(nowMs));
}

/** A base64:// signing JWKS URL with one fresh Ed25519 key (credentials.derived_tokens.jwt.signing_keys.urls). */
export function signingJwksUrl(kid: string): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = { ...privateKey.export({ format: "jwk" }), kid, use: "sig", alg: "EdDSA" };
  return `base64://${Buffer.from(JSON.stringify({ keys: [jwk] })).toString("base64")}`;
}
