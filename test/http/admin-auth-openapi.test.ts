/**
 * /openapi.json declares serve.admin_auth (docs/admin-auth.md#openapi): the schemes of the configured
 * modes and, on every admin operation, a requirement naming its permission; health, version, JWKS,
 * the document itself and the public surface carry none. With mode none the document declares no
 * security at all (plumbing.test.ts checks it against the reference's).
 */
import { adminOpenApiSecurity, isAdminRoute, permissionFor } from "@talos/admin";
import { hashAdminToken } from "@talos/core";
import { buildOpenApi, type RouteDef } from "@talos/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

type Op = { security?: Record<string, string[]>[]; "x-talos-permission"?: string; description?: string };
type Doc = { info: { description: string }; paths: Record<string, Record<string, Op>>; components: { securitySchemes?: Record<string, { type: string; scheme?: string; name?: string }> } };
const operations = (doc: Doc) => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => ({ method: m.toUpperCase() as "GET", path, op })));

let secured: TestServer;
let open: TestServer;
beforeAll(async () => {
  const token = "talos_at_openapi_test_0123456789abcdefghij";
  [secured, open] = await Promise.all([
    startTestServer({ overrides: { "serve.admin_auth.mode": "tokens", "serve.admin_auth.tokens": [{ name: "ci", hash: hashAdminToken(token), permissions: ["keys:read"] }] } }),
    startTestServer(),
  ]);
});
afterAll(async () => {
  await secured?.close();
  await open?.close();
});

describe("OpenAPI with serve.admin_auth.mode tokens", () => {
  it("declares the bearer scheme (and the gateway's header), no mutualTLS", async () => {
    const doc = (await secured.request("GET", "/openapi.json")).body as Doc;
    expect(doc.components.securitySchemes?.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.securitySchemes?.talosAdminAuthorization).toMatchObject({ type: "apiKey", in: "header", name: "Talos-Admin-Authorization" });
    expect(doc.components.securitySchemes?.mutualTLS).toBeUndefined();
    expect(doc.info.description).not.toContain("no built-in authentication");
  });

  it("puts a requirement with the permission on every admin operation, and on no other", async () => {
    const doc = (await secured.request("GET", "/openapi.json")).body as Doc;
    const ops = operations(doc);
    const admin = ops.filter((o) => isAdminRoute(o));
    expect(admin.length).toBeGreaterThan(15);
    for (const { method, path, op } of admin) {
      const permission = permissionFor({ method, path });
      const scheme = path.startsWith("/gateway/") ? "talosAdminAuthorization" : "bearer";
      expect(op.security, `${method} ${path}`).toEqual([{ [scheme]: [permission] }]);
      expect(op["x-talos-permission"]).toBe(permission);
      expect(op.description).toContain(`\`${permission}\``);
    }
    const others = ops.filter((o) => !isAdminRoute(o));
    for (const p of ["/health/alive", "/health/ready", "/version", "/openapi.json", "/v2alpha1/derivedKeys/jwks.json", "/v2alpha1/apiKeys:selfRevoke"]) {
      expect(others.map((o) => o.path), p).toContain(p);
    }
    for (const { method, path, op } of others) {
      expect(op.security, `${method} ${path}`).toBeUndefined();
      expect(op["x-talos-permission"], `${method} ${path}`).toBeUndefined();
    }
    // and what the document says is what the server does: a guarded operation refuses no credential
    expect((await secured.request("GET", "/v2alpha1/admin/issuedApiKeys")).status).toBe(401);
  });
});

describe("OpenAPI with mode none", () => {
  it("declares no security anywhere and keeps the private-network note", async () => {
    const doc = (await open.request("GET", "/openapi.json")).body as Doc;
    expect(doc.components.securitySchemes).toBeUndefined();
    expect(Object.keys(doc.components)).toEqual(["schemas"]);
    for (const { op } of operations(doc)) {
      expect(op.security).toBeUndefined();
      expect(op["x-talos-permission"]).toBeUndefined();
      expect(op.description).toBeUndefined();
    }
    expect(doc.info.description).toContain("no built-in authentication");
    expect(adminOpenApiSecurity(["none"])).toBeUndefined();
  });
});

describe("adminOpenApiSecurity", () => {
  const route = (method: RouteDef["method"], path: string): RouteDef => ({ method, path, responses: { 200: { description: "ok" } }, handler: () => new Response() });
  const routes = [route("GET", "/v2alpha1/admin/issuedApiKeys"), route("GET", "/gateway/verify"), route("GET", "/health/alive")];

  it("mtls alone: only mutualTLS", () => {
    const doc = buildOpenApi(routes, "t", adminOpenApiSecurity(["mtls"])) as unknown as Doc;
    expect(Object.keys(doc.components.securitySchemes!)).toEqual(["mutualTLS"]);
    expect(doc.components.securitySchemes!.mutualTLS!.type).toBe("mutualTLS");
    expect(doc.paths["/v2alpha1/admin/issuedApiKeys"]!.get!.security).toEqual([{ mutualTLS: ["keys:read"] }]);
    expect(doc.paths["/health/alive"]!.get!.security).toBeUndefined();
  });

  it("jwt and mtls: either one satisfies an operation", () => {
    const doc = buildOpenApi(routes, "t", adminOpenApiSecurity(["jwt", "mtls"])) as unknown as Doc;
    expect(Object.keys(doc.components.securitySchemes!).sort()).toEqual(["bearer", "mutualTLS", "talosAdminAuthorization"]);
    expect(doc.paths["/v2alpha1/admin/issuedApiKeys"]!.get!.security).toEqual([{ bearer: ["keys:read"] }, { mutualTLS: ["keys:read"] }]);
    expect(doc.paths["/gateway/verify"]!.get!.security).toEqual([{ talosAdminAuthorization: ["keys:verify"] }, { mutualTLS: ["keys:verify"] }]);
  });
});
