/**
 * Admin authentication (docs/admin-auth.md): every registered admin route refuses a caller without
 * a credential (401) and one without its permission (403), and serves one with it; the public
 * surface and probes never ask; failed attempts are throttled per client IP.
 */
import { ROUTE_PERMISSIONS, isAdminRoute, permissionFor } from "@talos/admin";
import { PERMISSIONS, hashAdminToken, type Permission } from "@talos/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

const tokenFor = (p: Permission) => `talos_at_test_${p.replace(":", "_")}_0123456789abcdefghij`;
const tokens = PERMISSIONS.map((p) => ({ name: `holder-of-${p}`, hash: hashAdminToken(tokenFor(p)), permissions: [p] }));

let server: TestServer;
let routes: { method: string; path: string }[] = [];
let customerKey = "";

beforeAll(async () => {
  server = await startTestServer({
    overrides: { "serve.admin_auth.mode": "tokens", "serve.admin_auth.tokens": tokens, "serve.admin_auth.throttle.quota": 20 },
  });
  // the routes actually registered, as the running app publishes them
  const doc = (await server.request("GET", "/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
  const issued = await server.request("POST", "/v2alpha1/admin/issuedApiKeys", { actor_id: "gw" }, { authorization: `Bearer ${tokenFor("admin")}` });
  customerKey = issued.body.secret;
  routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })));
});
afterAll(() => server?.close());

const concrete = (path: string) => path.replace("{key_id}", "00000000-0000-4000-8000-000000000000").replace("{event_id}", "00000000-0000-7000-8000-000000000000");

/** The status of a served request; a never-ending answer (the SSE stream) is cancelled after its head. */
async function servedStatus(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<number> {
  if (!path.endsWith(":stream")) {
    const r = await server.request(method, path, body, headers);
    expect(r.status, `${method} ${path}: ${r.text}`).toBeLessThan(500);
    return r.status;
  }
  const res = await server.built.app("all").request(path, { method, headers }, { incoming: { socket: { remoteAddress: "127.0.0.1" } } });
  await res.body?.cancel();
  return res.status;
}
// on the gateway route Authorization is the customer's: the admin credential has its own header
const bearer = (path: string, token: string): Record<string, string> =>
  path.startsWith("/gateway/") ? { "talos-admin-authorization": `Bearer ${token}`, "x-api-key": customerKey } : { authorization: `Bearer ${token}` };

describe("the permission table", () => {
  it("has an entry for every registered admin route", () => {
    const admin = routes.filter(isAdminRoute);
    expect(admin.length).toBeGreaterThan(15);
    const missing = admin.filter((r) => ROUTE_PERMISSIONS[`${r.method} ${r.path}`] === undefined).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });
});

describe("every admin route", () => {
  it("401 without a credential, 403 without its permission, served with it", async () => {
    const admin = routes.filter(isAdminRoute);
    for (const r of admin) {
      const path = concrete(r.path);
      const needed = permissionFor(r as { method: "GET"; path: string });
      const body = r.method === "GET" || r.method === "DELETE" ? undefined : {};
      const none = await server.request(r.method, path, body, r.path.startsWith("/gateway/") ? { "x-api-key": customerKey } : {});
      expect(none.status, `${r.method} ${r.path}`).toBe(401);
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer realm="talos-admin"/);
      expect(none.body.error.status).toBe("UNAUTHENTICATED");

      const other: Permission = needed === "keys:read" ? "keys:verify" : "keys:read";
      const denied = await server.request(r.method, path, body, bearer(r.path, tokenFor(other)));
      expect(denied.status, `${r.method} ${r.path} with ${other}`).toBe(403);
      expect(denied.body.error.status).toBe("PERMISSION_DENIED");
      expect(denied.body.error.message).toContain(needed);

      for (const p of [needed, "admin"] as const) {
        const ok = await servedStatus(r.method, path, body, bearer(r.path, tokenFor(p)));
        expect([401, 403], `${r.method} ${r.path} with ${p}`).not.toContain(ok);
        expect(ok).toBeLessThan(500);
      }
    }
  });

  it("a wrong token is 401 with error=invalid_token, never echoing it", async () => {
    const r = await server.request("GET", "/v2alpha1/admin/issuedApiKeys", undefined, { authorization: "Bearer talos_at_wrong" }, "10.1.0.1");
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(r.text).not.toContain("talos_at_wrong");
  });

  it("issues and lists keys with keys:write and keys:read tokens", async () => {
    const issued = await server.request("POST", "/v2alpha1/admin/issuedApiKeys", { actor_id: "auth-a" }, bearer("/", tokenFor("keys:write")));
    expect(issued.status).toBe(201);
    const v = await server.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: issued.body.secret }, bearer("/", tokenFor("keys:verify")));
    expect(v.body.is_valid).toBe(true);
  });

  it("events name the principal that made the change, never its token", async () => {
    const issued = await server.request("POST", "/v2alpha1/admin/issuedApiKeys", { actor_id: "auth-ev" }, bearer("/", tokenFor("keys:write")));
    const keyId = issued.body.issued_api_key.key_id;
    const list = await server.request("GET", `/v2alpha1/admin/events?filter=${encodeURIComponent(`key_id = "${keyId}"`)}`, undefined, bearer("/", tokenFor("events:read")));
    expect(list.status, list.text).toBe(200);
    expect(list.body.events.map((e: { type: string; principal: string }) => [e.type, e.principal])).toEqual([["api_key.issued", "holder-of-keys:write"]]);
    expect(list.text).not.toContain(tokenFor("keys:write"));
  });
});

describe("outside the admin API", () => {
  it("probes, version, JWKS, OpenAPI and self-revocation ask for no credential", async () => {
    for (const [m, p] of [
      ["GET", "/health/alive"],
      ["GET", "/version"],
      ["GET", "/openapi.json"],
    ] as const) {
      expect((await server.request(m, p)).status, p).toBe(200);
    }
    expect([200, 500]).toContain((await server.request("GET", "/v2alpha1/derivedKeys/jwks.json")).status);
    const self = await server.request("POST", "/v2alpha1/apiKeys:selfRevoke", { credential: "ory_ak_nope" });
    expect([401, 403]).not.toContain(self.status);
  });
});

describe("brute force", () => {
  it("1000 wrong tokens from one IP are refused with 429; a valid caller from another IP is not", async () => {
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const r = await server.request("GET", "/v2alpha1/admin/issuedApiKeys", undefined, { authorization: `Bearer guess-${i}` }, "203.0.113.7");
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    // the quota (20 a minute) of failures is spent at once; the rest never reach the check
    expect(statuses.get(401)).toBeLessThanOrEqual(21);
    expect(statuses.get(429)).toBeGreaterThanOrEqual(979);
    const limited = await server.request("GET", "/v2alpha1/admin/issuedApiKeys", undefined, bearer("/", tokenFor("admin")), "203.0.113.7");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    const other = await server.request("GET", "/v2alpha1/admin/issuedApiKeys", undefined, bearer("/", tokenFor("keys:read")), "198.51.100.9");
    expect(other.status).toBe(200);
  });
});
