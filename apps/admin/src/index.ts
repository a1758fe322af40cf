export { adminRoutes, createAdminApp } from "./app.js";
