/**
 * The parsed configuration (docs/configuration.md). Keys mirror the file's snake_case paths so that
 * config text, env names and code read the same. Every duration is a number of milliseconds.
 */
import type { EventsConfig } from "./events-types.js";

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
    };
    metrics: { enabled: boolean; host: string; port: number };
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
      jwt: { signing_key_id: string; signing_keys: { urls: string[] } };
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
  events: EventsConfig;
}
