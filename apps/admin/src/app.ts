import { createApp, healthRoutes, jwksRoute, versionRoute, type AppDeps, type RouteDef } from "@talos/http";
import { issuedRoutes } from "./routes/issued.js";
import { importedRoutes } from "./routes/imported.js";
import { verifyFastRoutes, verifyRoutes } from "./routes/verify.js";
import { gatewayRoutes } from "./routes/gateway.js";
import { openApiRoute } from "./routes/openapi.js";
import { usageRoutes } from "./routes/usage.js";
import { invalidationRoutes } from "./routes/invalidations.js";
import { batchRevokeRoutes } from "./routes/batch-revoke.js";
import { eventRoutes } from "./routes/events.js";
import { guardFastRoutes, guardRoutes } from "./permissions.js";

/** Every admin operation (docs/wire.md#endpoints, docs/verification.md#gateway-verify), without health/version/JWKS. */
export function adminRoutes(deps: AppDeps): RouteDef[] {
  return [...issuedRoutes(deps), ...importedRoutes(deps), ...verifyRoutes(deps), ...gatewayRoutes(deps), ...usageRoutes(deps), ...invalidationRoutes(deps), ...batchRevokeRoutes(deps), ...eventRoutes(deps)];
}

/** The admin surface: key management, verification, derivation, JWKS, health, OpenAPI. */
export function createAdminApp(deps: AppDeps, extra: RouteDef[] = []) {
  const routes = [...adminRoutes(deps), ...extra, jwksRoute(deps), ...healthRoutes(deps), versionRoute(deps)];
  // the document declares admin auth only when a guard is in force (mode none: the reference's document)
  routes.push(openApiRoute(routes, deps.version, deps.adminGuard ? deps.ctx.config.serve.admin_auth.mode : ["none"]));
  return createApp(deps, guardRoutes(deps.adminGuard, routes));
}

/** Admin routes node:http serves ahead of Hono (the verification hot path). */
export function adminFastRoutes(deps: AppDeps) {
  return guardFastRoutes(deps.adminGuard, verifyFastRoutes(deps));
}
