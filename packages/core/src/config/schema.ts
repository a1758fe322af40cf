/**
 * Zod schema of the configuration file (docs/configuration.md). Input is the raw file shape (snake_case,
 * duration strings); output is exactly `Config` (durations in ms, retired values normalised).
 * Every message is written so it can follow "<dotted.path>: " and never quotes the input value,
 * because several fields hold secrets or credentials (HMAC secrets, DSNs, signing-key URLs).
 */
import { z } from "zod";
import { formatDurationMs, parseDuration } from "../duration.js";
import type { ClientIpSource, Config, RetiredValue } from "./types.js";

/** How a leaf value is written in text form (environment variables, CLI flags). */
export type ConfigValueKind = "string" | "duration" | "enum" | "int" | "bool" | "string[]" | "retired[]";

export interface ConfigKey {
  /** dotted snake_case path, e.g. `credentials.api_keys.max_ttl` */
  readonly path: string;
  readonly kind: ConfigValueKind;
}

/**
 * An absent section parses as `{}`, so each key reports its own default or "required". Typed as the
 * empty object although sections with required keys do not accept it as input: that is the point.
 */
const EMPTY = {} as never;

const leafKinds = new WeakMap<z.ZodType, ConfigValueKind>();

/** Marks `schema` as a configuration leaf; `schema` must be the final (outermost) schema of the key. */
function leaf<T extends z.ZodType>(kind: ConfigValueKind, schema: T): T {
  leafKinds.set(schema, kind);
  return schema;
}

// ---------------------------------------------------------------------------------------------
// Leaf builders
// ---------------------------------------------------------------------------------------------

const typeError = (what: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? "required" : `must be ${what}`;

/** A strict mapping: unknown keys are errors. */
function mapping<T extends z.core.$ZodLooseShape>(shape: T, error: string = "must be a mapping") {
  return z.strictObject(shape, { error: (iss) => (iss.input === undefined ? "required" : error) });
}

const stringSchema = () => z.string({ error: typeError("a string") });
const nonEmptyString = () => stringSchema().min(1, { error: "must not be empty" });
const boolSchema = () => z.boolean({ error: typeError("true or false") });

function intSchema(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  const message =
    max === Number.MAX_SAFE_INTEGER
      ? min === 0
        ? "must be a non-negative integer"
        : `must be an integer of at least ${min}`
      : `must be an integer between ${min} and ${max}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
}

function enumSchema<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of: ${values.join(", ")}` });
}

const stringList = (item: z.ZodType<string, string> = stringSchema()) =>
  z.array(item, { error: typeError("a list of strings") });

const DURATION_HINT = 'must be a duration such as "30s", "1h30m" or "7d"';

interface DurationBounds {
  /** smallest accepted value in ms; omitted = negative values allowed */
  min?: number;
  /** largest accepted value in ms */
  max?: number;
}

/** Parses a duration text into ms, or returns the problem. A bare number 0 is accepted (unit-free). */
function durationMs(input: unknown, bounds: DurationBounds): number | string {
  let ms: number | null;
  if (input === 0) ms = 0;
  else if (typeof input === "string") ms = parseDuration(input);
  else ms = null;
  if (ms === null) return DURATION_HINT;
  if (bounds.min !== undefined && ms < bounds.min) {
    return bounds.min === 0 ? "must not be negative" : bounds.min === 1 ? "must be greater than zero" : `must be at least ${formatDurationMs(bounds.min)}`;
  }
  if (bounds.max !== undefined && ms > bounds.max) return `must be at most ${formatDurationMs(bounds.max)}`;
  return ms;
}

/** Go/extended duration string → ms. */
function durationSchema(bounds: DurationBounds = { min: 0 }) {
  return z.unknown().transform((input, ctx): number => {
    const out = durationMs(input, bounds);
    if (typeof out === "string") {
      ctx.issues.push({ code: "custom", message: out, input });
      return z.NEVER;
    }
    return out;
  });
}

/** Optional duration: absent, null or zero → null ("unset"). */
function optionalDurationSchema(bounds: DurationBounds = { min: 0 }) {
  return z.unknown().optional().transform((input, ctx): number | null => {
    if (input === undefined || input === null) return null;
    const out = durationMs(input, bounds);
    if (typeof out === "string") {
      ctx.issues.push({ code: "custom", message: out, input });
      return z.NEVER;
    }
    return out === 0 ? null : out;
  });
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** RFC 3339 timestamp → ms since epoch, or null when malformed (calendar-checked, unlike Date.parse). */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number, number, number, number, number, number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return null;
  const ms = Date.parse(text.toUpperCase());
  return Number.isNaN(ms) ? null : ms;
}

const RETIRED_SHAPE_HINT = "must be a string or a {value, expires_at} object";

/** `(string | {value, expires_at?})[]` → RetiredValue[]. A string is shorthand for `{value}`. */
function retiredList(value: z.ZodType<string, string>) {
  const entry = z.preprocess(
    (input) => (typeof input === "string" ? { value: input } : input),
    mapping(
      {
        value,
        expires_at: z
          .unknown()
          .optional()
          .transform((input, ctx): number | null => {
            if (input === undefined || input === null) return null;
            const ms = typeof input === "string" ? parseRfc3339(input) : null;
            if (ms === null) {
              ctx.issues.push({ code: "custom", message: 'must be an RFC 3339 timestamp such as "2030-01-01T00:00:00Z"', input });
              return z.NEVER;
            }
            return ms;
          }),
      },
      RETIRED_SHAPE_HINT,
    ),
  );
  return z
    .array(entry, { error: typeError("a list") })
    .transform((entries): RetiredValue[] => entries.map((e) => ({ value: e.value, expires_at: e.expires_at })));
}

const PREFIX = /^[a-zA-Z0-9_]{1,16}$/;
const MACAROON_PREFIX = /^[a-zA-Z0-9_]{1,8}$/;
const prefixSchema = () =>
  stringSchema().regex(PREFIX, { error: "must be 1 to 16 letters, digits or underscores (^[a-zA-Z0-9_]{1,16}$)" });
const macaroonPrefixSchema = () =>
  stringSchema().regex(MACAROON_PREFIX, { error: "must be 1 to 8 letters, digits or underscores (^[a-zA-Z0-9_]{1,8}$)" });

const HMAC_MIN = 32;
const hmacSecretSchema = () => stringSchema().min(HMAC_MIN, { error: `must be at least ${HMAC_MIN} characters` });

export const CLIENT_IP_SOURCES = [
  "CLIENT_IP_SOURCE_UNSPECIFIED",
  "CLIENT_IP_SOURCE_REMOTE_ADDR",
  "CLIENT_IP_SOURCE_CF_CONNECTING_IP",
  "CLIENT_IP_SOURCE_X_FORWARDED_FOR",
  "CLIENT_IP_SOURCE_X_REAL_IP",
  "CLIENT_IP_SOURCE_TRUE_CLIENT_IP",
] as const satisfies readonly ClientIpSource[];

// ---------------------------------------------------------------------------------------------
// DSN (docs/server.md#databases-and-migrations)
// ---------------------------------------------------------------------------------------------

export const ACCEPTED_DSN_SCHEMES = "memory, pglite://<dir>, postgres://, postgresql://, cockroach://, cockroachdb://";

/**
 * Checks a database DSN and rewrites CockroachDB schemes to `postgresql://`.
 * The problem text never contains the DSN itself (it usually carries a password).
 */
export function normalizeDsn(dsn: string): { ok: true; dsn: string } | { ok: false; problem: string } {
  const text = dsn.trim();
  if (text === "memory") return { ok: true, dsn: text };
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(.*)$/s.exec(text);
  if (!m) return { ok: false, problem: `is not a supported DSN; accepted: ${ACCEPTED_DSN_SCHEMES}` };
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  switch (scheme) {
    case "pglite":
      if (rest === "") return { ok: false, problem: "pglite:// needs a directory, e.g. pglite://./data" };
      return { ok: true, dsn: `pglite://${rest}` };
    case "postgres":
    case "postgresql":
      return { ok: true, dsn: `${scheme}://${rest}` };
    case "cockroach":
    case "cockroachdb":
      return { ok: true, dsn: `postgresql://${rest}` };
    default:
      return { ok: false, problem: `unsupported scheme "${scheme}://"; accepted: ${ACCEPTED_DSN_SCHEMES}` };
  }
}

const dsnSchema = () =>
  nonEmptyString().transform((dsn, ctx): string => {
    const out = normalizeDsn(dsn);
    if (!out.ok) {
      ctx.issues.push({ code: "custom", message: out.problem, input: dsn });
      return z.NEVER;
    }
    return out.dsn;
  });

const REDIS_ADDR = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;
const redisAddrSchema = () => stringSchema().regex(REDIS_ADDR, { error: 'must be "host:port"' });

// docs/derived-tokens.md#jwks: other schemes are a start-up error. The URL itself is never echoed (base64:// holds private keys).
const SIGNING_KEY_URL = /^(base64|file):\/\/./;
const signingKeyUrlSchema = () => stringSchema().regex(SIGNING_KEY_URL, { error: "must be a base64://… or file://… URL" });

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
    client_ip_source: leaf("enum", enumSchema(CLIENT_IP_SOURCES).prefault("CLIENT_IP_SOURCE_UNSPECIFIED").describe("Where the client IP for IP allowlists comes from: the socket peer (UNSPECIFIED, REMOTE_ADDR) or one proxy header (CF-Connecting-IP, the left-most X-Forwarded-For entry, X-Real-IP, True-Client-IP). An absent header falls back to the peer; an unparseable one leaves the IP unknown, which fails closed. Only pick a header your proxy always sets.")),
    request_log: section({
      exclude_health_endpoints: leaf("bool", boolSchema().prefault(false).describe("Leave health probe requests out of the request log.")),
    }),
    cors: section({
      enabled: leaf("bool", boolSchema().prefault(false).describe("Answer CORS preflights and add CORS headers.")),
      allowed_origins: leaf("string[]", stringList().prefault(["*"]).describe("Origins allowed by CORS; \"*\" allows any.")),
      allowed_methods: leaf("string[]", stringList().prefault(["GET", "POST", "PUT", "PATCH", "DELETE"]).describe("Methods allowed by CORS.")),
      allowed_headers: leaf("string[]", stringList().prefault(["Authorization", "Content-Type"]).describe("Request headers allowed by CORS.")),
      exposed_headers: leaf("string[]", stringList().prefault(["Content-Type"]).describe("Response headers exposed to browsers by CORS.")),
      allow_credentials: leaf("bool", boolSchema().prefault(false).describe("Allow credentialed CORS requests.")),
      max_age: leaf("int", intSchema(0).prefault(0).describe("Seconds a browser may cache a preflight answer; 0 sends no max age.")),
    }),
  }),
  metrics: section({
    enabled: leaf("bool", boolSchema().prefault(true).describe("Run the metrics listener (health probes and /metrics).")),
    host: leaf("string", nonEmptyString().prefault("0.0.0.0").describe("Address the metrics listener binds to.")),
    port: leaf("int", intSchema(0, 65535).prefault(4422).describe("Port of the metrics listener.")),
  }),
  /** server processes sharing the API port (node:cluster); 1 = this process serves alone */
  workers: leaf("int", intSchema(1, MAX_WORKERS).prefault(1).describe("Server processes sharing the API port (node:cluster); 1 serves from this process alone. More than 1 needs PostgreSQL and rate_limit.backend redis.")),
});

const credentialsSchema = section({
  issuer: leaf("string", nonEmptyString().describe("Issuer of derived tokens (their iss claim) and the issuer field of verify answers. Required; dev mode defaults it to http://localhost:4420.")),
  issuer_retired: leaf("retired[]", retiredList(nonEmptyString()).prefault([]).describe("Former issuers whose derived tokens are still accepted; each a string or {value, expires_at}.")),
  clock_skew: leaf("duration", durationSchema({ min: 0, max: MAX_CLOCK_SKEW_MS }).prefault("5m").describe("Tolerance for clocks that disagree: how far in the future an issued key's timestamp or a token's nbf may lie, and the leeway on exp. At most 10m.")),
  api_keys: section({
    default_ttl: leaf("duration", optionalDurationSchema().describe("Lifetime of issued and imported keys created without a ttl; unset falls back to max_ttl. Must not exceed max_ttl when that is non-zero.")),
    max_ttl: leaf("duration", durationSchema().prefault("8760h").describe("Longest lifetime a key may ask for, and the oldest an issued key may be (judged by the timestamp inside it). 0 removes both limits and lets keys without ttl never expire.")),
    prefix: section({
      current: leaf("string", prefixSchema().prefault("ory_ak").describe("Prefix of newly issued secret keys (1-16 letters, digits or underscores).")),
      retired: leaf("string[]", stringList(prefixSchema()).prefault([]).describe("Former secret-key prefixes that still verify.")),
      public_current: leaf("string", prefixSchema().nullish().transform((v) => v ?? null).describe("Prefix of newly issued public keys; needed to issue KEY_VISIBILITY_PUBLIC keys.")),
      public_retired: leaf("string[]", stringList(prefixSchema()).prefault([]).describe("Former public-key prefixes that still verify.")),
    }),
  }),
  derived_tokens: section({
    default_ttl: leaf("duration", durationSchema().prefault("1h").describe("Lifetime of a derived token when the request gives no ttl (never beyond the parent key's expiry).")),
    max_ttl: leaf("duration", durationSchema().prefault("24h").describe("Longest lifetime a derive request may ask for; 0 leaves only the 10-year bound and the parent's lifetime.")),
    jwt: section({
      signing_key_id: leaf("string", stringSchema().prefault("").describe("kid of the JWK that signs derived JWTs; empty picks the first key with use sig, else the first usable key.")),
      signing_keys: section({
        urls: leaf("string[]", stringList(signingKeyUrlSchema()).prefault([]).describe("Where the signing JWK sets come from: base64://<base64 of a JWKS> or file://<path>. Every asymmetric key is published in the JWKS.")),
      }),
    }),
    macaroon: section({
      prefix: section({
        current: leaf("string", macaroonPrefixSchema().prefault("mc").describe("Prefix of newly minted macaroons (1-8 letters, digits or underscores); must differ from every API key prefix.")),
        retired: leaf("string[]", stringList(macaroonPrefixSchema()).prefault([]).describe("Former macaroon prefixes that still verify.")),
      }),
    }),
  }),
});

const secretsSchema = section({
  hmac: section({
    current: leaf("string", hmacSecretSchema().describe("HMAC secret (at least 32 characters) that signs issued-key checksums and from which the macaroon root key and the page-token key are derived. Required; dev mode generates and keeps one.")),
    retired: leaf("retired[]", retiredList(hmacSecretSchema()).prefault([]).describe("Former HMAC secrets, still accepted for checksums, macaroons and page tokens; each a string or {value, expires_at}.")),
  }),
});

const dbSchema = section({
  dsn: leaf("string", dsnSchema().describe("Database: memory, pglite://<dir>, postgres://\u2026 or postgresql://\u2026, cockroach://\u2026 or cockroachdb://\u2026. Required; dev mode defaults to pglite://./.talos/db. DSN is read as a fallback for TALOS_DB_DSN.")),
  migrate_on_start: leaf("bool", boolSchema().prefault(false).describe("Apply pending PostgreSQL migrations at start-up, like serve --migrate. Embedded databases always migrate themselves.")),
});

// `cache.type` is accepted for compatibility and folded into `enabled`; an explicit `enabled` wins.
const cacheSchema = mapping({
  enabled: leaf("bool", boolSchema().optional().describe("Cache key records for verification.")),
  type: leaf("enum", enumSchema(["noop", "memory", "redis"]).optional().describe("Accepted for compatibility with the reference: noop disables the cache, memory and redis enable it. An explicit cache.enabled wins.")),
  ttl: leaf("duration", durationSchema({}).prefault("60s").describe("How long a cached record is used (never beyond the key's expiry); 0 or less disables the cache. Also the worst-case delay before another instance sees a change when an invalidation is lost.")),
  memory: section({
    max_entries: leaf("int", intSchema(100, 10_000_000).prefault(100_000).describe("Records the in-process LRU cache holds.")),
  }),
  redis: section({
    addrs: leaf("string[]", stringList(redisAddrSchema()).prefault([]).describe("Redis servers as host:port. When set, cache invalidations are also sent over Redis pub/sub, and rate_limit.backend redis may be used.")),
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
  backend: leaf("enum", enumSchema(["memory", "redis"]).prefault("memory").describe("Where rate-limit state lives: memory (per process) or redis (shared by every instance; needs cache.redis.addrs).")),
  fail_open: leaf("bool", boolSchema().prefault(true).describe("When the rate-limit backend fails, allow the request (true) or answer VERIFICATION_ERROR_INTERNAL (false).")),
});

const lastUsedSchema = section({
  queue_size: leaf("int", intSchema(256, 1_000_000).prefault(10_000).describe("Pending last-used updates kept in memory; beyond it new ones are dropped and counted.")),
  flush_size: leaf("int", intSchema(1, 10_000).prefault(100).describe("Rows written per last-used batch.")),
  flush_interval: leaf("duration", durationSchema({ min: 1 }).prefault("30s").describe("Longest time a last-used update waits before it is written.")),
});

// 0 reads as "unset" (unlimited) rather than "no keys at all", which would make the server useless.
const quotaSchema = section({
  api_keys_max: leaf("int", intSchema(0).nullish().transform((v) => (v === undefined || v === null || v === 0 ? null : v)).describe("Most non-revoked issued plus imported keys per network; unset or 0 means unlimited.")),
});

const logSchema = section({
  level: leaf("enum", enumSchema(["debug", "info", "warn", "error"]).prefault("info").describe("Least severe log level written.")),
  format: leaf("enum", enumSchema(["json", "text"]).prefault("json").describe("Log line format: json or text.")),
});

// ---------------------------------------------------------------------------------------------
// Cross-field rules. They run even when other fields failed (so every problem is reported at
// once), hence they read the partially parsed value defensively.
// ---------------------------------------------------------------------------------------------

function at(value: unknown, ...path: string[]): unknown {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

interface CrossFieldIssue {
  path: (string | number)[];
  message: string;
}

function crossFieldIssues(value: unknown): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];

  const defaultTtl = at(value, "credentials", "api_keys", "default_ttl");
  const maxTtl = at(value, "credentials", "api_keys", "max_ttl");
  if (typeof defaultTtl === "number" && typeof maxTtl === "number" && maxTtl > 0 && defaultTtl > maxTtl) {
    issues.push({
      path: ["credentials", "api_keys", "default_ttl"],
      message: `must not exceed credentials.api_keys.max_ttl (${formatDurationMs(maxTtl)})`,
    });
  }

  // Several processes need one shared database and one shared rate limiter: the embedded database
  // lives inside one process, and memory quotas would be enforced once per worker.
  const workers = at(value, "serve", "workers");
  if (typeof workers === "number" && workers > 1) {
    const dsn = at(value, "db", "dsn");
    if (typeof dsn === "string" && !/^postgres(ql)?:\/\//.test(dsn)) {
      issues.push({ path: ["serve", "workers"], message: "more than 1 needs a PostgreSQL database (db.dsn postgres://…): the embedded database lives in one process" });
    }
    if (at(value, "rate_limit", "backend") !== "redis") {
      issues.push({ path: ["serve", "workers"], message: 'more than 1 needs rate_limit.backend "redis": each worker would enforce its own memory quota' });
    }
  }

  const addrs = at(value, "cache", "redis", "addrs");
  if (at(value, "rate_limit", "backend") === "redis" && Array.isArray(addrs) && addrs.length === 0) {
    issues.push({ path: ["rate_limit", "backend"], message: '"redis" requires cache.redis.addrs to be set' });
  }

  // docs/verification.md#credential-routing routes `<macaroon prefix>_v1_…` before issued keys, so an equal API key prefix would never verify.
  const apiPrefix = at(value, "credentials", "api_keys", "prefix");
  const apiPrefixes = new Set([
    ...strings([at(apiPrefix, "current"), at(apiPrefix, "public_current")]),
    ...strings(at(apiPrefix, "retired")),
    ...strings(at(apiPrefix, "public_retired")),
  ]);
  const macaroonPrefix = at(value, "credentials", "derived_tokens", "macaroon", "prefix");
  const base = ["credentials", "derived_tokens", "macaroon", "prefix"];
  const clash = "must differ from every credentials.api_keys.prefix value";
  const current = at(macaroonPrefix, "current");
  if (typeof current === "string" && apiPrefixes.has(current)) issues.push({ path: [...base, "current"], message: clash });
  const retired = at(macaroonPrefix, "retired");
  if (Array.isArray(retired)) {
    retired.forEach((p, i) => {
      if (typeof p === "string" && apiPrefixes.has(p)) issues.push({ path: [...base, "retired", i], message: clash });
    });
  }
  return issues;
}

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
}).superRefine(
  (value, ctx) => {
    for (const issue of crossFieldIssues(value)) {
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
