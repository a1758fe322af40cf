export { adminFastRoutes, adminRoutes, createAdminApp } from "./app.js";
export { ROUTE_PERMISSIONS, isAdminRoute, peerOf, permissionFor } from "./permissions.js";
