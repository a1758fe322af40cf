import type { AdminPrincipal, Permission } from "@talos/core";
import {
  isRefusal,
  peerOf,
  sendPlain,
  withAdminPrincipal,
  type AdminAuthRequest,
  type PlainResponse,
  type RequestView,
  type AdminGuard,
  type Ctx,
  type FastRoute,
  type RouteDef,
  type TlsSocketLike,
} from "@talos/http";

/**
 * The one table of admin routes and the permission each needs (docs/admin-auth.md#permissions).
 * Every route of the admin API must be here: test/http/admin-auth.test.ts fails for a registered
 * route without an entry, and at run time such a route needs `admin`. Some entries name routes
 * that other features add (events, bulk revoke, the proxy's invalidation stream, usage).
 */
export const ROUTE_PERMISSIONS: Readonly<Record<string, Permission>> = {
  "POST /v2alpha1/admin/issuedApiKeys": "keys:write",
  "GET /v2alpha1/admin/issuedApiKeys": "keys:read",
  "GET /v2alpha1/admin/issuedApiKeys/{key_id}": "keys:read",
  "PATCH /v2alpha1/admin/issuedApiKeys/{key_id}": "keys:write",
  "POST /v2alpha1/admin/issuedApiKeys/{key_id}:rotate": "keys:write",
  "POST /v2alpha1/admin/issuedApiKeys/{key_id}:revoke": "keys:write",
  "POST /v2alpha1/admin/importedApiKeys": "keys:write",
  "POST /v2alpha1/admin/importedApiKeys:batchCreate": "keys:write",
  "GET /v2alpha1/admin/importedApiKeys": "keys:read",
  "GET /v2alpha1/admin/importedApiKeys/{key_id}": "keys:read",
  "PATCH /v2alpha1/admin/importedApiKeys/{key_id}": "keys:write",
  "POST /v2alpha1/admin/importedApiKeys/{key_id}:revoke": "keys:write",
  "DELETE /v2alpha1/admin/importedApiKeys/{key_id}": "keys:write",
  "POST /v2alpha1/admin/apiKeys:verify": "keys:verify",
  "POST /v2alpha1/admin/apiKeys:batchVerify": "keys:verify",
  "POST /v2alpha1/admin/apiKeys:derive": "tokens:derive",
  "POST /v2alpha1/admin/apiKeys/{key_id}:revoke": "keys:write",
  "POST /v2alpha1/admin/apiKeys:batchRevoke": "keys:write",
  "GET /v2alpha1/admin/apiKeys/{key_id}/usage": "keys:read",
  "GET /v2alpha1/admin/events": "events:read",
  "GET /v2alpha1/admin/events/{event_id}": "events:read",
  // sends deliveries again: an operator's action, not a reader's
  "POST /v2alpha1/admin/events/{event_id}:redeliver": "admin",
  "GET /v2alpha1/admin/cacheInvalidations:stream": "keys:verify",
  "GET /gateway/verify": "keys:verify",
};

/** Routes of the admin API (behind admin auth); health, version, JWKS, OpenAPI and the public surface are not. */
export function isAdminRoute(r: Pick<RouteDef, "path">): boolean {
  return r.path.startsWith("/v2alpha1/admin/") || r.path.startsWith("/gateway/");
}

export const permissionFor = (r: Pick<RouteDef, "method" | "path">): Permission => ROUTE_PERMISSIONS[`${r.method} ${r.path}`] ?? "admin";

/** On the gateway route `Authorization` holds the customer's credential: admin credentials come in Talos-Admin-Authorization. */
const headerFor = (path: string) => (path.startsWith("/gateway/") ? "talos-admin-authorization" : "authorization");

function authRequest(c: Ctx): AdminAuthRequest {
  const socket = (c.env as { incoming?: { socket?: TlsSocketLike } } | undefined)?.incoming?.socket;
  return { header: (n) => c.req.header(n), remoteAddress: socket?.remoteAddress, peerCertificate: () => peerOf(socket) };
}

/** Puts the admin routes behind `guard`; every other route passes unchanged. */
export function guardRoutes(guard: AdminGuard | null | undefined, routes: RouteDef[]): RouteDef[] {
  if (!guard) return routes;
  return routes.map((r) => {
    if (!isAdminRoute(r)) return r;
    const permission = permissionFor(r);
    const header = headerFor(r.path);
    return {
      ...r,
      handler: async (c, p) => {
        const out = await guard.check(authRequest(c), permission, { header });
        if (isRefusal(out)) return sendPlain(c, out);
        // verification emits no audit events: keep it off the async-context bookkeeping
        return permission === "keys:verify" ? r.handler(c, p) : withAdminPrincipal(out, () => r.handler(c, p));
      },
    };
  });
}

/** The node:http fast routes behind `guard` (same table). */
export function guardFastRoutes(guard: AdminGuard | null | undefined, routes: FastRoute[]): FastRoute[] {
  if (!guard) return routes;
  return routes.map((r) => {
    const permission = permissionFor({ method: "POST", path: r.path });
    const next = (out: AdminPrincipal | PlainResponse, body: Record<string, unknown>, req: RequestView) =>
      isRefusal(out) ? out : r.handle(body, req);
    return {
      ...r,
      // not async: a token answered synchronously adds no promise to the verify hot path
      handle: (body, req) => {
        const out = guard.check(req, permission);
        return out instanceof Promise ? out.then((o) => next(o, body, req)) : next(out, body, req);
      },
    };
  });
}
