export { startProxy, type ProxyLogger, type RunningProxy } from "./server.js";
export { cacheKey, VerifyCache } from "./cache.js";
export { INVALIDATION_STREAM_PATH } from "./invalidation.js";
