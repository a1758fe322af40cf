/**
 * The parsed configuration (docs/configuration.md). Keys mirror the file's snake_case paths so that
 * config text, env names and code read the same. Every duration is a number of milliseconds.
 */
import type { EventsConfig } from "./events-types.js";
import type { Permission } from "../auth/permissions.js";

export type AdminAuthMode = "none" | "tokens" | "jwt" | "mtls";
export type AdminJwtAlgorithm = "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512" | "EdDSA";

export interface TlsFiles {
  cert_path: string;
  key_path: string;
}

/** serve.admin_auth (docs/admin-auth.md) */
export interface AdminAuthConfig {
  mode: AdminAuthMode[];
  tokens: { name: string; hash: string; permissions: Permission[] }[];
  jwt: {
    jwks_url: string;
    jwks_file: string;
    issuer: string;
    audience: string;
    algorithms: AdminJwtAlgorithm[];
    clock_skew: number;
    permissions_claim: string;
    name_claim: string;
    jwks_cache_ttl: number;
    jwks_refresh_interval: number;
  };
  mtls: { clients: { name: string; subject: string; san: string; permissions: Permission[] }[] };
  throttle: { quota: number; window: number };
}

export type ClientIpSource =
  | "CLIENT_IP_SOURCE_UNSPECIFIED"
  | "CLIENT_IP_SOURCE_REMOTE_ADDR"
  | "CLIENT_IP_SOURCE_CF_CONNECTING_IP"
  | "CLIENT_IP_SOURCE_X_FORWARDED_FOR"
  | "CLIENT_IP_SOURCE_X_REAL_IP"
  | "CLIENT_IP_SOURCE_TRUE_CLIENT_IP";

export interface RetiredValue {
  value: string;
  /** ms since epoch, or null for no expiry */
  expires_at: number | null;
}

export interface Config {
  serve: {
    http: {
      host: string;
      port: number;
      /** multitenancy: the network comes from X-Forwarded-Host instead of Host */
      trust_forwarded_host: boolean;
      client_ip_source: ClientIpSource;
      request_log: { exclude_health_endpoints: boolean };
      cors: {
        enabled: boolean;
        allowed_origins: string[];
        allowed_methods: string[];
        allowed_headers: string[];
        exposed_headers: string[];
        allow_credentials: boolean;
        max_age: number;
      };
      tls: { cert_path: string; key_path: string; client_ca_path: string };
    };
    /** the web UI at /console on the admin surface */
    console: { enabled: boolean };
    metrics: { enabled: boolean; host: string; port: number; tls: TlsFiles };
    /** serve.admin_auth (docs/admin-auth.md) */
    admin_auth: AdminAuthConfig;
    /** server processes sharing the API port; more than 1 needs PostgreSQL and the Redis rate limiter */
    workers: number;
  };
  credentials: {
    issuer: string;
    issuer_retired: RetiredValue[];
    clock_skew: number;
    api_keys: {
      default_ttl: number | null;
      max_ttl: number;
      prefix: { current: string; retired: string[]; public_current: string | null; public_retired: string[] };
    };
    derived_tokens: {
      default_ttl: number;
      max_ttl: number;
      jwt: { signing_key_id: string; signing_keys: { urls: string[]; refresh_interval: number } };
      macaroon: { prefix: { current: string; retired: string[] } };
    };
  };
  secrets: { hmac: { current: string; retired: RetiredValue[] } };
  db: { dsn: string; migrate_on_start: boolean };
  cache: {
    enabled: boolean;
    ttl: number;
    memory: { max_entries: number };
    redis: { addrs: string[]; password: string; db: number; timeout: number; tls: { enabled: boolean } };
  };
  rate_limit: { enabled: boolean; backend: "memory" | "redis"; fail_open: boolean };
  last_used: { queue_size: number; flush_size: number; flush_interval: number };
  quota: { api_keys_max: number | null };
  log: { level: "debug" | "info" | "warn" | "error"; format: "json" | "text" };
  tracing: {
    enabled: boolean;
    service_name: string;
    service_version: string;
    environment: string;
    exporter: "otlp";
    endpoint: string;
    /** 0..1, for root spans; an incoming sampled traceparent is always honoured */
    sample_rate: number;
  };
  /** per-key hourly usage counts; retention in ms */
  usage: { retention: number; max_pending: number };
  /** docs/leaked-keys.md */
  secret_scanning: {
    github: { enabled: boolean; public_keys_url: string; public_keys: { key_identifier: string; key: string }[] };
  };
  events: EventsConfig;
  proxy: ProxyConfig;
  multitenancy: { enabled: boolean; networks: NetworkEntry[] };
}

/** `talos proxy` (docs/proxy.md); the server ignores it. */
export interface ProxyConfig {
  mode: "sidecar" | "gateway";
  upstream?: string | undefined;
  talos?: string | undefined;
  talos_authorization: string;
  listen: string;
  metrics_listen: string;
  cache_ttl: number;
  cache_max_size: number;
  trust_x_forwarded_host: boolean;
  allowed_hosts: string[];
  invalidation: "stream" | "redis" | "none";
  redis: { addrs: string[]; password: string; db: number };
  gateway: {
    credential_sources: ("bearer" | "x-api-key" | "query" | "cookie")[];
    query_param: string;
    cookie_name: string;
    strip_credential: boolean;
  };
  routes: ProxyRoute[];
}

export interface ProxyRoute {
  path_prefix: string;
  methods: ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS")[];
  scopes_any: string[];
  scopes_all: string[];
}

/** One tenant of `multitenancy.networks` (docs/multitenancy.md). */
export interface NetworkEntry {
  /** lower case, without port */
  hostname: string;
  /** UUID, lower case */
  id: string;
  config_path: string;
}
