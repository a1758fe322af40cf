import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminFastRoutes, createAdminApp } from "@talos/admin";
import { NIL_NID } from "@talos/core";
import { createRequestListener } from "@talos/http";
import { startTestServer, type TestServer } from "../support/harness.js";
import { expectBadRequest } from "../support/http-expect.js";

/**
 * A rate-limit `unit` is echoed in the RateLimit-Policy header as `qu="<unit>"` (docs/verification.md#rate-limit-headers).
 * Input is restricted to visible ASCII without '"' and '\' on every write path; a unit stored before
 * that rule (written here straight through the store) must still never break verify.
 */
const ISSUED = "/v2alpha1/admin/issuedApiKeys";
const IMPORTED = "/v2alpha1/admin/importedApiKeys";
const VERIFY = "/v2alpha1/admin/apiKeys:verify";
const BAD_UNITS = ["a\r\nX-Injected: 1", "line\nfeed", "€uro", 'x";q=1000000;w=1', "back\\slash", "with space", "tab\t", "nul\u0000"];
const FIELD = "rate_limit_policy.unit";
const policy = (unit: string) => ({ quota: 5, window: "60s", unit });
const newRaw = () => `sk_unit_${randomBytes(16).toString("hex")}`;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s?.close());

async function issue(body: Record<string, unknown> = {}) {
  const r = await s.request("POST", ISSUED, { actor_id: `unit-${randomUUID()}`, ...body });
  expect(r.status, r.text).toBe(201);
  return { secret: r.body.secret as string, keyId: r.body.issued_api_key.key_id as string };
}

describe("rate_limit_policy.unit on input", () => {
  it("visible ASCII other than '\"' and '\\' is accepted and echoed", async () => {
    const unit = "content-bytes_v2.x/(1)~!#$%&'*+:;<=>?@[]^`{|}";
    const { keyId } = await issue({ rate_limit_policy: policy(unit) });
    expect((await s.request("GET", `${ISSUED}/${keyId}`)).body.rate_limit_policy.unit).toBe(unit);
  });

  it.each(BAD_UNITS)("%j is a 400 naming the field on issue, import, update and rotate", async (unit) => {
    expectBadRequest(await s.request("POST", ISSUED, { rate_limit_policy: policy(unit) }), FIELD);
    expectBadRequest(await s.request("POST", IMPORTED, { raw_key: newRaw(), name: "n", actor_id: "a", rate_limit_policy: policy(unit) }), FIELD);
    const { keyId } = await issue();
    expectBadRequest(await s.request("PATCH", `${ISSUED}/${keyId}?update_mask=rate_limit_policy`, { rate_limit_policy: policy(unit) }), FIELD);
    expectBadRequest(await s.request("POST", `${ISSUED}/${keyId}:rotate`, { rate_limit_policy: policy(unit) }), FIELD);
    const imp = await s.request("POST", IMPORTED, { raw_key: newRaw(), name: "n", actor_id: "a" });
    expect(imp.status, imp.text).toBe(201);
    expectBadRequest(await s.request("PATCH", `${IMPORTED}/${imp.body.key_id}?update_mask=rate_limit_policy`, { rate_limit_policy: policy(unit) }), FIELD);
    // nothing changed
    expect((await s.request("GET", `${ISSUED}/${keyId}`)).body.rate_limit_policy).toBeNull();
  });

  it("is an INVALID_ARGUMENT item in a batch import", async () => {
    const res = await s.request("POST", `${IMPORTED}:batchCreate`, {
      requests: [{ raw_key: newRaw(), name: "ok", actor_id: "a" }, ...BAD_UNITS.map((unit) => ({ raw_key: newRaw(), name: "n", actor_id: "a", rate_limit_policy: policy(unit) }))],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.success_count).toBe(1);
    for (const [i, r] of res.body.results.slice(1).entries()) {
      expect(r.error_code).toBe("BATCH_CREATE_IMPORTED_API_KEYS_ERROR_INVALID_ARGUMENT");
      expect(r.error_message).toMatch(new RegExp(`^requests\\[${i + 1}\\]\\.rate_limit_policy\\.unit: `));
    }
  });
});

describe("a unit stored before the input rule", () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    // the real node:http listener with the verify fast route, as `talos serve` answers verify
    server = createServer(createRequestListener(createAdminApp(s.deps), { fast: { routes: adminFastRoutes(s.deps), deps: s.deps } }));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function storedWith(unit: string) {
    const k = await issue({ rate_limit_policy: policy("content-bytes") });
    const updated = await s.built.store.repo.updateKey(NIL_NID, k.keyId, { rateLimitPolicy: { quota: 5, windowSeconds: 60, unit }, updateTime: new Date() });
    expect(updated?.rateLimitPolicy?.unit).toBe(unit);
    return k;
  }

  const expectedPolicy = (unit: string) =>
    /^[\x20-\x7e]*$/.test(unit) ? `"default";q=5;w=60;qu="${unit.replace(/[\\"]/g, "\\$&")}"` : '"default";q=5;w=60';

  // NUL cannot be stored at all (PostgreSQL text)
  it.each(BAD_UNITS.filter((u) => !u.includes("\u0000")))("%j: verify answers 200 (Hono and fast route, single, batch, gateway), qu quoted or left out", async (unit) => {
    const k = await storedWith(unit);
    for (const headers of [{ "Cache-Control": "no-cache" }, {}] as Record<string, string>[]) {
      const hono = await s.request("POST", VERIFY, { credential: k.secret }, headers);
      expect(hono.status, hono.text).toBe(200);
      expect(hono.body).toMatchObject({ is_valid: true, rate_limit_policy: { quota: "5", window: "60s", unit } });
      expect(hono.headers.get("ratelimit-policy")).toBe(expectedPolicy(unit));

      const fast = await fetch(base + VERIFY, { method: "POST", headers, body: JSON.stringify({ credential: k.secret }) });
      const body = await fast.json();
      expect(fast.status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ is_valid: true, rate_limit_policy: { unit } });
      expect(fast.headers.get("ratelimit-policy")).toBe(expectedPolicy(unit));
    }
    const batch = await s.request("POST", "/v2alpha1/admin/apiKeys:batchVerify", { requests: [{ credential: k.secret }] });
    expect(batch.status, batch.text).toBe(200);
    expect(batch.body.results[0].is_valid).toBe(true);
    const gw = await s.request("GET", "/gateway/verify", undefined, { Authorization: `Bearer ${k.secret}` });
    expect(gw.status, gw.text).toBe(200);
    expect(gw.headers.get("ratelimit-policy")).toBe(expectedPolicy(unit));
  });
});
