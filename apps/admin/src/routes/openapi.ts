import type { AdminAuthMode } from "@talos/core";
import { buildOpenApi, json, type OpenApiSecurity, type RouteDef } from "@talos/http";
import { isAdminRoute, permissionFor } from "../permissions.js";

/** GET /openapi.json: built once, from the routes actually served. */
export function openApiRoute(routes: RouteDef[], version: string, modes: readonly AdminAuthMode[] = ["none"]): RouteDef {
  let doc: unknown;
  return {
    method: "GET",
    path: "/openapi.json",
    summary: "This document",
    tags: ["meta"],
    responses: { 200: { description: "OpenAPI 3.1 document" } },
    handler: () => json(200, (doc ??= buildOpenApi(routes, version, adminOpenApiSecurity(modes)))),
  };
}

/**
 * serve.admin_auth as OpenAPI security (docs/admin-auth.md): the schemes of the configured modes, and
 * on each admin route (the permission table's routes; not health, version, JWKS, this document or
 * the public surface) a requirement naming its permission. OpenAPI 3.1 lets non-OAuth schemes list
 * role names, so the permission is both the requirement's role and `x-talos-permission`.
 * Mode none: undefined, and the document stays the reference-compatible one.
 */
export function adminOpenApiSecurity(modes: readonly AdminAuthMode[]): OpenApiSecurity | undefined {
  if (modes.length === 0 || modes.includes("none")) return undefined;
  const bearer = modes.includes("tokens") || modes.includes("jwt");
  const mtls = modes.includes("mtls");
  const what = [modes.includes("tokens") && "a static admin token", modes.includes("jwt") && "a JWT from the identity provider"].filter(Boolean).join(" or ");
  const schemes: Record<string, Record<string, unknown>> = {};
  if (bearer) {
    schemes.bearer = { type: "http", scheme: "bearer", description: `Authorization: Bearer with ${what}.` };
    // GET /gateway/verify: Authorization carries the customer's key (accepted on every admin route)
    schemes.talosAdminAuthorization = { type: "apiKey", in: "header", name: "Talos-Admin-Authorization", description: `"Bearer " and ${what}.` };
  }
  if (mtls) schemes.mutualTLS = { type: "mutualTLS", description: "A client certificate from serve.http.tls.client_ca_path on the serve.admin_auth.mtls.clients allowlist." };
  return {
    schemes,
    operation(route) {
      if (!isAdminRoute(route)) return null;
      const permission = permissionFor(route);
      const header = route.path.startsWith("/gateway/") ? "talosAdminAuthorization" : "bearer";
      const requirement = [...(bearer ? [{ [header]: [permission] }] : []), ...(mtls ? [{ mutualTLS: [permission] }] : [])];
      return { requirement, permission };
    },
  };
}
