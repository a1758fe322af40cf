export { adminFastRoutes, adminRoutes, createAdminApp } from "./app.js";
