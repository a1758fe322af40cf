/**
 * Zod schema of the configuration file (docs/configuration.md). Input is the raw file shape (snake_case,
 * duration strings); output is exactly `Config` (durations in ms, retired values normalised).
 * Every message is written so it can follow "<dotted.path>: " and never quotes the input value,
 * because several fields hold secrets or credentials (HMAC secrets, DSNs, signing-key URLs).
 */

import { z } from "zod";
import type { Config } from "./types.js";
import {
  EMPTY,
  leafKinds,
  leaf,
  mapping,
  stringSchema,
  nonEmptyString,
  boolSchema,
  intSchema,
  enumSchema,
  stringList,
  durationSchema,
  optionalDurationSchema,
  retiredList,
  prefixSchema,
  macaroonPrefixSchema,
  hmacSecretSchema,
  CLIENT_IP_SOURCES,
  dsnSchema,
  redisAddrSchema,
  signingKeyUrlSchema,
  numberSchema,
  otlpEndpointSchema,
} from "./fields.js";
import { networkList } from "./network-fields.js";
import type { ConfigKey } from "./fields.js";
import { crossFieldIssues } from "./cross-field.js";
import { proxySchema } from "./proxy-schema.js";
import { secretScanningSchema } from "./secret-scanning.js";
import { eventsSchema } from "./events.js";
import { adminAuthIssues, adminAuthSchema, httpTlsSchema, metricsTlsSchema } from "./admin-auth.js";
export type { ConfigKey, ConfigValueKind } from "./fields.js";
export { ACCEPTED_DSN_SCHEMES, CLIENT_IP_SOURCES, normalizeDsn, parseRfc3339 } from "./fields.js";

// ---------------------------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------------------------

/** An optional section of the file: absent means `{}`, so every key inside gets its default. */
function section<T extends z.core.$ZodLooseShape>(shape: T) {
  return mapping(shape).prefault(EMPTY);
}

const MAX_CLOCK_SKEW_MS = 10 * 60_000;

const MAX_WORKERS = 256;

const serveSchema = section({
  http: section({
    host: leaf("string", nonEmptyString().prefault("0.0.0.0").describe("Address the API listener binds to.")),
    port: leaf("int", intSchema(0, 65535).prefault(4420).describe("Port of the API listener.")),
    trust_forwarded_host: leaf(
      "bool",
      boolSchema()
        .prefault(false)
        .describe(
          "With multitenancy: pick the network by X-Forwarded-Host instead of Host. Only enable it behind a proxy that always sets that header.",
        ),
    ),
    client_ip_source: leaf(
      "enum",
      enumSchema(CLIENT_IP_SOURCES)
        .prefault("CLIENT_IP_SOURCE_UNSPECIFIED")
        .describe(
          "Where the client IP for IP allowlists comes from: the socket peer (UNSPECIFIED, REMOTE_ADDR) or one proxy header (CF-Connecting-IP, the left-most X-Forwarded-For entry, X-Real-IP, True-Client-IP). An absent header falls back to the peer; an unparseable one leaves the IP unknown, which fails closed. Only pick a header your proxy always sets.",
        ),
    ),
    request_log: section({
      exclude_health_endpoints: leaf("bool", boolSchema().prefault(false).describe("Leave health probe requests out of the request log.")),
    }),
    cors: section({
      enabled: leaf("bool", boolSchema().prefault(false).describe("Answer CORS preflights and add CORS headers.")),
      allowed_origins: leaf("string[]", stringList().prefault(["*"]).describe('Origins allowed by CORS; "*" allows any.')),
      allowed_methods: leaf("string[]", stringList().prefault(["GET", "POST", "PUT", "PATCH", "DELETE"]).describe("Methods allowed by CORS.")),
      allowed_headers: leaf("string[]", stringList().prefault(["Authorization", "Content-Type"]).describe("Request headers allowed by CORS.")),
      exposed_headers: leaf("string[]", stringList().prefault(["Content-Type"]).describe("Response headers exposed to browsers by CORS.")),
      allow_credentials: leaf("bool", boolSchema().prefault(false).describe("Allow credentialed CORS requests.")),
      max_age: leaf("int", intSchema(0).prefault(0).describe("Seconds a browser may cache a preflight answer; 0 sends no max age.")),
    }),
    tls: httpTlsSchema(),
  }),
  metrics: section({
    enabled: leaf("bool", boolSchema().prefault(true).describe("Run the metrics listener (health probes and /metrics).")),
    host: leaf("string", nonEmptyString().prefault("0.0.0.0").describe("Address the metrics listener binds to.")),
    port: leaf("int", intSchema(0, 65535).prefault(4422).describe("Port of the metrics listener.")),
    tls: metricsTlsSchema(),
  }),
  console: section({
    enabled: leaf(
      "bool",
      boolSchema()
        .prefault(true)
        .describe("Serve the admin console (a web UI) at /console on the admin surface (talos serve, serve admin); never on the public surface."),
    ),
  }),
  admin_auth: adminAuthSchema,
  /** server processes sharing the API port (node:cluster); 1 = this process serves alone */
  workers: leaf(
    "int",
    intSchema(1, MAX_WORKERS)
      .prefault(1)
      .describe(
        "Server processes sharing the API port (node:cluster); 1 serves from this process alone. More than 1 needs PostgreSQL and rate_limit.backend redis.",
      ),
  ),
});

const credentialsSchema = section({
  issuer: leaf(
    "string",
    nonEmptyString().describe(
      "Issuer of derived tokens (their iss claim) and the issuer field of verify answers. Required; dev mode defaults it to http://localhost:4420.",
    ),
  ),
  issuer_retired: leaf(
    "retired[]",
    retiredList(nonEmptyString())
      .prefault([])
      .describe("Former issuers whose derived tokens are still accepted; each a string or {value, expires_at}."),
  ),
  clock_skew: leaf(
    "duration",
    durationSchema({ min: 0, max: MAX_CLOCK_SKEW_MS })
      .prefault("5m")
      .describe(
        "Tolerance for clocks that disagree: how far in the future an issued key's timestamp or a token's nbf may lie, and the leeway on exp. At most 10m.",
      ),
  ),
  api_keys: section({
    default_ttl: leaf(
      "duration",
      optionalDurationSchema().describe(
        "Lifetime of issued and imported keys created without a ttl; unset falls back to max_ttl. Must not exceed max_ttl when that is non-zero.",
      ),
    ),
    max_ttl: leaf(
      "duration",
      durationSchema()
        .prefault("8760h")
        .describe(
          "Longest lifetime a key may ask for, and the oldest an issued key may be (judged by the timestamp inside it). 0 removes both limits and lets keys without ttl never expire.",
        ),
    ),
    prefix: section({
      current: leaf(
        "string",
        prefixSchema().prefault("ory_ak").describe("Prefix of newly issued secret keys (1-16 letters, digits or underscores)."),
      ),
      retired: leaf("string[]", stringList(prefixSchema()).prefault([]).describe("Former secret-key prefixes that still verify.")),
      public_current: leaf(
        "string",
        prefixSchema()
          .nullish()
          .transform((v) => v ?? null)
          .describe("Prefix of newly issued public keys; needed to issue KEY_VISIBILITY_PUBLIC keys."),
      ),
      public_retired: leaf("string[]", stringList(prefixSchema()).prefault([]).describe("Former public-key prefixes that still verify.")),
    }),
  }),
  derived_tokens: section({
    default_ttl: leaf(
      "duration",
      durationSchema().prefault("1h").describe("Lifetime of a derived token when the request gives no ttl (never beyond the parent key's expiry)."),
    ),
    max_ttl: leaf(
      "duration",
      durationSchema()
        .prefault("24h")
        .describe("Longest lifetime a derive request may ask for; 0 leaves only the 10-year bound and the parent's lifetime."),
    ),
    jwt: section({
      signing_key_id: leaf(
        "string",
        stringSchema()
          .prefault("")
          .describe("kid of the JWK that signs derived JWTs; empty picks the first key with use sig, else the first usable key."),
      ),
      signing_keys: section({
        urls: leaf(
          "string[]",
          stringList(signingKeyUrlSchema())
            .prefault([])
            .describe(
              "Where the signing JWK sets come from: base64://<base64 of a JWKS>, file://<path> or https://<url> (fetched at start-up; unreachable is a start-up error). Every asymmetric key is published in the JWKS.",
            ),
        ),
        refresh_interval: leaf(
          "duration",
          durationSchema()
            .prefault("5m")
            .describe("How often https:// signing-key URLs are fetched again; a failed fetch keeps the last key set. 0 fetches only at start-up."),
        ),
      }),
    }),
    macaroon: section({
      prefix: section({
        current: leaf(
          "string",
          macaroonPrefixSchema()
            .prefault("mc")
            .describe("Prefix of newly minted macaroons (1-8 letters, digits or underscores); must differ from every API key prefix."),
        ),
        retired: leaf("string[]", stringList(macaroonPrefixSchema()).prefault([]).describe("Former macaroon prefixes that still verify.")),
      }),
    }),
  }),
});

const secretsSchema = section({
  hmac: section({
    current: leaf(
      "string",
      hmacSecretSchema().describe(
        "HMAC secret (at least 32 characters) that signs issued-key checksums and from which the macaroon root key and the page-token key are derived. Required; dev mode generates and keeps one.",
      ),
    ),
    retired: leaf(
      "retired[]",
      retiredList(hmacSecretSchema())
        .prefault([])
        .describe("Former HMAC secrets, still accepted for checksums, macaroons and page tokens; each a string or {value, expires_at}."),
    ),
  }),
});

const dbSchema = section({
  dsn: leaf(
    "string",
    dsnSchema().describe(
      "Database: memory, pglite://<dir>, postgres://\u2026 or postgresql://\u2026, cockroach://\u2026 or cockroachdb://\u2026. Required; dev mode defaults to pglite://./.talos/db. DSN is read as a fallback for TALOS_DB_DSN.",
    ),
  ),
  migrate_on_start: leaf(
    "bool",
    boolSchema()
      .prefault(false)
      .describe("Apply pending PostgreSQL migrations at start-up, like serve --migrate. Embedded databases always migrate themselves."),
  ),
});

// `cache.type` is accepted for compatibility and folded into `enabled`; an explicit `enabled` wins.
const cacheSchema = mapping({
  enabled: leaf("bool", boolSchema().optional().describe("Cache key records for verification.")),
  type: leaf(
    "enum",
    enumSchema(["noop", "memory", "redis"])
      .optional()
      .describe(
        "Accepted for compatibility with the reference: noop disables the cache, memory and redis enable it. An explicit cache.enabled wins.",
      ),
  ),
  ttl: leaf(
    "duration",
    durationSchema({})
      .prefault("60s")
      .describe(
        "How long a cached record is used (never beyond the key's expiry); 0 or less disables the cache. Also the worst-case delay before another instance sees a change when an invalidation is lost.",
      ),
  ),
  memory: section({
    max_entries: leaf("int", intSchema(100, 10_000_000).prefault(100_000).describe("Records the in-process LRU cache holds.")),
  }),
  redis: section({
    addrs: leaf(
      "string[]",
      stringList(redisAddrSchema())
        .prefault([])
        .describe(
          "Redis servers as host:port. When set, cache invalidations are also sent over Redis pub/sub, and rate_limit.backend redis may be used.",
        ),
    ),
    password: leaf("string", stringSchema().prefault("").describe("Redis password.")),
    db: leaf("int", intSchema(0).prefault(0).describe("Redis database number.")),
    timeout: leaf("duration", durationSchema({ min: 1 }).prefault("3s").describe("Timeout of Redis connections and commands.")),
    tls: section({ enabled: leaf("bool", boolSchema().prefault(false).describe("Connect to Redis over TLS.")) }),
  }),
})
  .transform(({ enabled, type, ...rest }) => ({
    enabled: enabled ?? (type === undefined ? true : type !== "noop"),
    ...rest,
  }))
  .prefault(EMPTY);

const rateLimitSchema = section({
  enabled: leaf("bool", boolSchema().prefault(true).describe("Enforce the rate-limit policies of keys on verification.")),
  backend: leaf(
    "enum",
    enumSchema(["memory", "redis"])
      .prefault("memory")
      .describe("Where rate-limit state lives: memory (per process) or redis (shared by every instance; needs cache.redis.addrs)."),
  ),
  fail_open: leaf(
    "bool",
    boolSchema()
      .prefault(true)
      .describe("When the rate-limit backend fails, allow the request (true) or answer VERIFICATION_ERROR_INTERNAL (false)."),
  ),
});

const lastUsedSchema = section({
  queue_size: leaf(
    "int",
    intSchema(256, 1_000_000).prefault(10_000).describe("Pending last-used updates kept in memory; beyond it new ones are dropped and counted."),
  ),
  flush_size: leaf("int", intSchema(1, 10_000).prefault(100).describe("Rows written per last-used batch.")),
  flush_interval: leaf(
    "duration",
    durationSchema({ min: 1 }).prefault("30s").describe("Longest time a last-used update waits before it is written."),
  ),
});

// 0 reads as "unset" (unlimited) rather than "no keys at all", which would make the server useless.
const quotaSchema = section({
  api_keys_max: leaf(
    "int",
    intSchema(0)
      .nullish()
      .transform((v) => (v === undefined || v === null || v === 0 ? null : v))
      .describe("Most non-revoked issued plus imported keys per network; unset or 0 means unlimited."),
  ),
});

const logSchema = section({
  level: leaf("enum", enumSchema(["debug", "info", "warn", "error"]).prefault("info").describe("Least severe log level written.")),
  format: leaf("enum", enumSchema(["json", "text"]).prefault("json").describe("Log line format: json or text.")),
});

// docs/observability.md#tracing
const tracingSchema = section({
  enabled: leaf("bool", boolSchema().prefault(false).describe("Trace requests with OpenTelemetry and export the spans over OTLP/HTTP.")),
  service_name: leaf("string", nonEmptyString().prefault("talos").describe("service.name of the exported spans.")),
  service_version: leaf("string", stringSchema().prefault("").describe("service.version of the exported spans; empty uses talos's version.")),
  environment: leaf("string", stringSchema().prefault("").describe("deployment.environment.name of the exported spans; empty leaves it out.")),
  exporter: leaf("enum", enumSchema(["otlp"]).prefault("otlp").describe("Span exporter: otlp (OTLP over HTTP, JSON encoding).")),
  endpoint: leaf(
    "string",
    otlpEndpointSchema()
      .prefault("http://localhost:4318")
      .describe(
        "OTLP/HTTP collector: a base URL (/v1/traces is appended when the path is empty) or the full traces URL; host:port means http://host:port.",
      ),
  ),
  sample_rate: leaf(
    "number",
    numberSchema(0, 1)
      .prefault(0.001)
      .describe("Share of new traces recorded (0 to 1); a request whose incoming traceparent is sampled is always recorded (parent-based)."),
  ),
});

// docs/observability.md#usage-history
const usageSchema = section({
  retention: leaf(
    "duration",
    durationSchema({ min: 3_600_000 }).prefault("90d").describe("How long per-key hourly usage counts are kept (at least 1h)."),
  ),
  max_pending: leaf(
    "int",
    intSchema(1000, 10_000_000)
      .prefault(100_000)
      .describe(
        "Distinct (key, hour, outcome) counts kept in memory between flushes (every last_used.flush_interval); beyond it new ones are dropped and counted.",
      ),
  ),
});

const multitenancySchema = section({
  enabled: leaf(
    "bool",
    boolSchema().prefault(false).describe("Serve several networks (tenants) chosen by the request's Host; off keeps everything on the nil network."),
  ),
  networks: leaf(
    "object[]",
    networkList()
      .prefault([])
      .describe(
        "The networks: each {hostname, id, config_path}; hostname matched case-insensitively without port, id a UUID, config_path a file of per-network settings (docs/multitenancy.md).",
      ),
  ),
});

export const configSchema = mapping({
  serve: serveSchema,
  credentials: credentialsSchema,
  secrets: secretsSchema,
  db: dbSchema,
  cache: cacheSchema,
  rate_limit: rateLimitSchema,
  last_used: lastUsedSchema,
  quota: quotaSchema,
  log: logSchema,
  tracing: tracingSchema,
  usage: usageSchema,
  proxy: proxySchema,
  secret_scanning: secretScanningSchema,
  events: eventsSchema,
  multitenancy: multitenancySchema,
}).superRefine(
  (value, ctx) => {
    for (const issue of [...crossFieldIssues(value), ...adminAuthIssues(value)]) {
      ctx.addIssue({ code: "custom", path: issue.path, message: issue.message, input: undefined });
    }
  },
  // run even when fields failed, so cross-field problems are listed with the rest
  { when: () => true },
);

/** The accepted file shape (before defaults and transformations). */
export type ConfigInput = z.input<typeof configSchema>;

// Compile-time guarantee that the schema produces exactly `Config`.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const schemaMatchesConfig: Equals<z.output<typeof configSchema>, Config> = true;
void schemaMatchesConfig;

// ---------------------------------------------------------------------------------------------
// Known keys (for TALOS_* environment variables and CLI overrides)
// ---------------------------------------------------------------------------------------------

function unwrap(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodPrefault || schema instanceof z.ZodDefault || schema instanceof z.ZodOptional || schema instanceof z.ZodNullable) {
    return schema.unwrap() as z.ZodType;
  }
  if (schema instanceof z.ZodPipe) return schema.in as z.ZodType;
  return schema;
}

function collectKeys(schema: z.ZodType, prefix: string, out: ConfigKey[]): void {
  let cur = schema;
  for (;;) {
    const kind = leafKinds.get(cur);
    if (kind !== undefined) {
      out.push({ path: prefix, kind });
      return;
    }
    if (cur instanceof z.ZodObject) break;
    const next = unwrap(cur);
    if (next === cur) throw new Error(`config schema: "${prefix}" is neither an object nor a marked leaf`);
    cur = next;
  }
  for (const [key, child] of Object.entries((cur as z.ZodObject).shape)) {
    collectKeys(child as z.ZodType, prefix === "" ? key : `${prefix}.${key}`, out);
  }
}

function buildKeys(): readonly ConfigKey[] {
  const out: ConfigKey[] = [];
  collectKeys(configSchema, "", out);
  return Object.freeze(out.map((k) => Object.freeze(k)));
}

/** Every leaf key of the configuration, in schema order. */
export const CONFIG_KEYS: readonly ConfigKey[] = buildKeys();
