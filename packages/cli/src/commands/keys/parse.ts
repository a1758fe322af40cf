import { InvalidArgumentError } from "commander";

/**
 * Option parsers for the client commands. Commander runs them while parsing, so a bad value is a
 * usage error (exit 2) before any request is made. Kept free of heavy imports: the registration
 * module loads this file on every `talos` start.
 */

export type Format = "table" | "json" | "json-pretty" | "yaml" | `jsonpath=${string}` | `jsonpointer=${string}`;
export const FORMATS = ["table", "json", "json-pretty", "yaml"] as const;
const FORMAT_HELP = `${FORMATS.join(", ")}, jsonpath=<expr> or jsonpointer=<pointer>`;

/** `--format`: a fixed name, or a JSONPath / JSON Pointer (RFC 6901) selecting part of the JSON answer. */
export function parseFormat(value: string): Format {
  if ((FORMATS as readonly string[]).includes(value)) return value as Format;
  if (value.startsWith("jsonpath=")) {
    if (value.length === "jsonpath=".length) throw new InvalidArgumentError("jsonpath= needs an expression, e.g. jsonpath=$.key_id");
    return value as Format;
  }
  if (value.startsWith("jsonpointer=")) {
    const ptr = value.slice("jsonpointer=".length);
    if (ptr !== "" && !ptr.startsWith("/")) throw new InvalidArgumentError("a JSON Pointer is empty or starts with /, e.g. jsonpointer=/key_id");
    return value as Format;
  }
  throw new InvalidArgumentError(`expected ${FORMAT_HELP}`);
}

/** A usage mistake found after parsing (e.g. a flag combination): exit code 2. */
export class UsageError extends Error {}

export const DEFAULT_ENDPOINT = "http://localhost:4420";

export function parseEndpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("expected an http:// or https:// URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new InvalidArgumentError("expected an http:// or https:// URL");
  if (url.username || url.password || url.search || url.hash) {
    throw new InvalidArgumentError("the URL must not carry credentials, a query or a fragment (use -H for headers)");
  }
  // a path prefix is kept (an API behind a proxy at https://host/talos)
  return url.href.replace(/\/+$/, "");
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `-H "Name: value"`, repeatable; checked by parseHeaders, not here, so a bad value is never echoed. */
export function collectHeader(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * The `-H` values as [name, value] pairs. The error names the header only: a value may be a
 * credential for the proxy in front of the admin API.
 */
export function parseHeaders(raw: string[] = []): [string, string][] {
  return raw.map((h, i) => {
    const colon = h.indexOf(":");
    const name = colon < 0 ? "" : h.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw new UsageError(`-H (#${i + 1}): expected "Name: value"`);
    const value = h.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) throw new UsageError(`-H ${name}: the value must not contain line breaks`);
    return [name, value];
  });
}

/** `a,b,c` → ["a","b","c"]; `''` → [] (clears the list on update). */
export function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/**
 * A JSON object; `''` or `null` → `""`, meaning "none" (clears on update, omitted on create).
 * Not `null`: commander turns a parser's null into `""` anyway.
 */
export function parseJsonObject(value: string): Record<string, unknown> | "" {
  if (value.trim() === "") return "";
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError("expected a JSON object, e.g. '{\"team\":\"ops\"}'");
  }
  if (v === null) return "";
  if (typeof v !== "object" || Array.isArray(v)) throw new InvalidArgumentError("expected a JSON object, e.g. '{\"team\":\"ops\"}'");
  return v as Record<string, unknown>;
}

/** A non-negative safe integer (`--rate-limit-quota`; 0 clears the policy on update). */
export function parseQuota(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("expected a whole number ≥ 0");
  return n;
}

export function parsePageSize(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 1000) throw new InvalidArgumentError("expected a whole number from 1 to 1000");
  return n;
}

// docs/wire.md#durations: Go durations plus d, w, mo, y. Duplicated from core on purpose: importing
// @talos/core here would load the whole server on every CLI start.
const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9, us: 1e-6, "µs": 1e-6, "μs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, mo: 2_592_000, y: 31_536_000,
};
const DURATION = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|mo|s|m|h|d|w|y))+$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|mo|s|m|h|d|w|y)/g;
const MAX_SECONDS = 315_360_000;

function durationSeconds(value: string): number {
  const s = value.trim();
  if (!DURATION.test(s)) throw new InvalidArgumentError("expected a duration such as 60s, 90m, 720h, 30d or 1y");
  let total = 0;
  for (const m of s.matchAll(PART)) total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  return total;
}

/** `--ttl`: validated here, sent as written (the server parses the same syntax). */
export function parseTtl(value: string): string {
  const secs = durationSeconds(value);
  if (secs < 1 || secs > MAX_SECONDS) throw new InvalidArgumentError("must lie between 1s and 315360000s (10 years)");
  return value.trim();
}

/** `--rate-limit-window`: any docs/wire.md#durations duration, sent as whole seconds (`"60s"`) as the API requires. */
export function parseWindow(value: string): number {
  const secs = Math.trunc(durationSeconds(value));
  if (secs < 1 || secs > MAX_SECONDS) throw new InvalidArgumentError("must lie between 1s and 315360000s");
  return secs;
}

function enumParser(prefix: string, names: readonly string[], hint: string) {
  return (value: string): string => {
    const v = value.trim().toUpperCase().replaceAll("-", "_");
    const short = v.startsWith(prefix) ? v.slice(prefix.length) : v;
    if (!names.includes(short)) throw new InvalidArgumentError(`expected ${hint}`);
    return prefix + short;
  };
}

export const parseReason = enumParser(
  "REVOCATION_REASON_",
  ["UNSPECIFIED", "KEY_COMPROMISE", "AFFILIATION_CHANGED", "SUPERSEDED", "PRIVILEGE_WITHDRAWN"],
  "key_compromise, affiliation_changed, superseded, privilege_withdrawn or a REVOCATION_REASON_* name",
);
export const parseVisibility = enumParser("KEY_VISIBILITY_", ["SECRET", "PUBLIC"], "secret or public");
export const parseAlgorithm = enumParser("TOKEN_ALGORITHM_", ["JWT", "MACAROON"], "jwt or macaroon");
export const parseStatus = enumParser("KEY_STATUS_", ["ACTIVE", "REVOKED", "EXPIRED"], "active, revoked or expired");

export function parseKind(value: string): "issued" | "imported" {
  const v = value.trim().toLowerCase();
  if (v !== "issued" && v !== "imported") throw new InvalidArgumentError("expected issued or imported");
  return v;
}

/** Flags every client command takes (docs/cli.md#client-commands). */
export interface CommonOptions {
  endpoint: string;
  format: Format;
  quiet?: boolean;
  /** raw `-H` values (see parseHeaders); absent when none was given. */
  header?: string[];
  /** admin API token (`--token`; default TALOS_ADMIN_TOKEN), sent as Authorization: Bearer */
  token?: string;
}

/** The resource flags of `keys issue` and `keys imported import`. */
export interface KeyFlags {
  actor?: string;
  scopes?: string[];
  ttl?: string;
  metadata?: Record<string, unknown> | "";
  allowedCidrs?: string[];
  rateLimitQuota?: number;
  rateLimitWindow?: number;
  visibility?: string;
  requestId?: string;
}
