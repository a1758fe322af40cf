export { createPublicApp, publicRoutes } from "./app.js";
