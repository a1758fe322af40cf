export { createServer, type ListenAt, type ServerDeps, type TalosServer } from "./create-server.js";
export { appFor, listenerFor, metricsApp, MODES, type Mode } from "./apps.js";
export { auditObservers, auditRecord } from "./audit.js";
export { joinCluster, runPrimary, type ClusterMessage, type PrimaryOptions } from "./cluster.js";
export { StartupError } from "./errors.js";
export { DEFAULT_TIMEOUTS, listen, type ListenOptions, type Listening, type Timeouts } from "./listen.js";
export type { RequestLine } from "./observe.js";
export { REDIS_CHANNEL } from "./redis.js";
export { createTracing, tracesUrl, type Tracing } from "./tracing.js";
