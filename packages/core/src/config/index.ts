export type { ClientIpSource, Config, NetworkEntry, ProxyConfig, ProxyRoute, RetiredValue } from "./types.js";
export { resolveNetworks, type Network } from "./networks.js";
export {
  ACCEPTED_DSN_SCHEMES,
  CLIENT_IP_SOURCES,
  CONFIG_KEYS,
  configSchema,
  normalizeDsn,
  parseRfc3339,
} from "./schema.js";
export type { ConfigInput, ConfigKey, ConfigValueKind } from "./schema.js";
export { ConfigError, DEV_ISSUER, envKeyFor, loadConfig } from "./load.js";
export type { LoadConfigOptions, LoadedConfig } from "./load.js";
export { loadProxyConfig } from "./load-proxy.js";
export { GITHUB_PUBLIC_KEYS_URL, isP256PublicKeyPem } from "./secret-scanning.js";
export type { EventsConfig, WebhookConfig } from "./events-types.js";
export { ADMIN_AUTH_MODES, ADMIN_JWT_ALGORITHMS } from "./admin-auth.js";
export type { AdminAuthConfig, AdminAuthMode, AdminJwtAlgorithm, TlsFiles } from "./types.js";
