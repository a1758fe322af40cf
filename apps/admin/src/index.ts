export { adminFastRoutes, adminRoutes, createAdminApp } from "./app.js";
export { ROUTE_PERMISSIONS, isAdminRoute, permissionFor } from "./permissions.js";
export { adminOpenApiSecurity } from "./routes/openapi.js";
