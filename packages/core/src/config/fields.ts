/** Leaf builders of the configuration schema (schema.ts): typed, bounded, secret-safe messages. */
import { z } from "zod";
import { formatDurationMs, parseDuration } from "../duration.js";
import type { ClientIpSource, RetiredValue } from "./types.js";

/** How a leaf value is written in text form (environment variables, CLI flags). */
/** `object[]`: a list of mappings (webhooks, tokens, networks); from text it must be a JSON array. */
export type ConfigValueKind = "string" | "duration" | "enum" | "int" | "number" | "bool" | "string[]" | "retired[]" | "object[]";

export interface ConfigKey {
  /** dotted snake_case path, e.g. `credentials.api_keys.max_ttl` */
  readonly path: string;
  readonly kind: ConfigValueKind;
}

/**
 * An absent section parses as `{}`, so each key reports its own default or "required". Typed as the
 * empty object although sections with required keys do not accept it as input: that is the point.
 */
export const EMPTY = {} as never;

export const leafKinds = new WeakMap<z.ZodType, ConfigValueKind>();

/** Marks `schema` as a configuration leaf; `schema` must be the final (outermost) schema of the key. */
export function leaf<T extends z.ZodType>(kind: ConfigValueKind, schema: T): T {
  leafKinds.set(schema, kind);
  return schema;
}

// ---------------------------------------------------------------------------------------------
// Leaf builders
// ---------------------------------------------------------------------------------------------

export const typeError = (what: string) => (iss: { input?: unknown }) => (iss.input === undefined ? "required" : `must be ${what}`);

/** A strict mapping: unknown keys are errors. */
export function mapping<T extends z.core.$ZodLooseShape>(shape: T, error: string = "must be a mapping") {
  return z.strictObject(shape, { error: (iss) => (iss.input === undefined ? "required" : error) });
}

export const stringSchema = () => z.string({ error: typeError("a string") });
export const nonEmptyString = () => stringSchema().min(1, { error: "must not be empty" });
export const boolSchema = () => z.boolean({ error: typeError("true or false") });

export function intSchema(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  const message =
    max === Number.MAX_SAFE_INTEGER
      ? min === 0
        ? "must be a non-negative integer"
        : `must be an integer of at least ${min}`
      : `must be an integer between ${min} and ${max}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
}

export function enumSchema<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of: ${values.join(", ")}` });
}

export const stringList = (item: z.ZodType<string, string> = stringSchema()) => z.array(item, { error: typeError("a list of strings") });

export const DURATION_HINT = 'must be a duration such as "30s", "1h30m" or "7d"';

export interface DurationBounds {
  /** smallest accepted value in ms; omitted = negative values allowed */
  min?: number;
  /** largest accepted value in ms */
  max?: number;
}

/** Parses a duration text into ms, or returns the problem. A bare number 0 is accepted (unit-free). */
export function durationMs(input: unknown, bounds: DurationBounds): number | string {
  let ms: number | null;
  if (input === 0) ms = 0;
  else if (typeof input === "string") ms = parseDuration(input);
  else ms = null;
  if (ms === null) return DURATION_HINT;
  if (bounds.min !== undefined && ms < bounds.min) {
    return bounds.min === 0
      ? "must not be negative"
      : bounds.min === 1
        ? "must be greater than zero"
        : `must be at least ${formatDurationMs(bounds.min)}`;
  }
  if (bounds.max !== undefined && ms > bounds.max) return `must be at most ${formatDurationMs(bounds.max)}`;
  return ms;
}

/** Go/extended duration string → ms. */
export function durationSchema(bounds: DurationBounds = { min: 0 }) {
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
export function optionalDurationSchema(bounds: DurationBounds = { min: 0 }) {
  return z
    .unknown()
    .optional()
    .transform((input, ctx): number | null => {
      if (input === undefined || input === null) return null;
      const out = durationMs(input, bounds);
      if (typeof out === "string") {
        ctx.issues.push({ code: "custom", message: out, input });
        return z.NEVER;
      }
      return out === 0 ? null : out;
    });
}

export const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** RFC 3339 timestamp → ms since epoch, or null when malformed (calendar-checked, unlike Date.parse). */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return null;
  const ms = Date.parse(text.toUpperCase());
  return Number.isNaN(ms) ? null : ms;
}

export const RETIRED_SHAPE_HINT = "must be a string or a {value, expires_at} object";

/** `(string | {value, expires_at?})[]` → RetiredValue[]. A string is shorthand for `{value}`. */
export function retiredList(value: z.ZodType<string, string>) {
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

export const PREFIX = /^[a-zA-Z0-9_]{1,16}$/;
export const MACAROON_PREFIX = /^[a-zA-Z0-9_]{1,8}$/;
export const prefixSchema = () => stringSchema().regex(PREFIX, { error: "must be 1 to 16 letters, digits or underscores (^[a-zA-Z0-9_]{1,16}$)" });
export const macaroonPrefixSchema = () =>
  stringSchema().regex(MACAROON_PREFIX, { error: "must be 1 to 8 letters, digits or underscores (^[a-zA-Z0-9_]{1,8}$)" });

export const HMAC_MIN = 32;
export const hmacSecretSchema = () => stringSchema().min(HMAC_MIN, { error: `must be at least ${HMAC_MIN} characters` });

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

export const dsnSchema = () =>
  nonEmptyString().transform((dsn, ctx): string => {
    const out = normalizeDsn(dsn);
    if (!out.ok) {
      ctx.issues.push({ code: "custom", message: out.problem, input: dsn });
      return z.NEVER;
    }
    return out.dsn;
  });

export const REDIS_ADDR = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;
export const redisAddrSchema = () => stringSchema().regex(REDIS_ADDR, { error: 'must be "host:port"' });

// docs/derived-tokens.md#jwks: other schemes are a start-up error. The URL itself is never echoed (base64:// holds private keys).
export const SIGNING_KEY_URL = /^(base64|file|https):\/\/./;
export const signingKeyUrlSchema = () => stringSchema().regex(SIGNING_KEY_URL, { error: "must be a base64://…, file://… or https://… URL" });

/** A finite number within [min, max] (fractions allowed). */
export function numberSchema(min: number, max: number) {
  const message = `must be a number between ${min} and ${max}`;
  return z.number({ error: message }).min(min, { error: message }).max(max, { error: message });
}

/** An OTLP/HTTP collector address: http(s)://… or host:port (read as http://host:port). */
export const OTLP_ENDPOINT = /^(https?:\/\/[^\s/]+(\/\S*)?|[^\s:/]+:\d{1,5})$/;
export const otlpEndpointSchema = () => stringSchema().regex(OTLP_ENDPOINT, { error: "must be an http:// or https:// URL, or host:port" });
