export { createConsoleApp, CONSOLE_CSP } from "./app.js";
export { ANONYMOUS, can, type ConsoleAuthenticator, type ConsoleClient, type ConsolePrincipal, type Permission } from "./auth.js";
export type { ConsoleDeps } from "./context.js";
export { CHARTED_METRICS, type MetricJson, type MetricsSource } from "./sampler.js";
