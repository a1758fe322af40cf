import { badRequest } from "@talos/core";

/**
 * protojson request decoding (docs/wire.md#json-requests): lowerCamelCase names become snake_case (the same
 * field in both spellings is an error), null means absent. Struct values (metadata,
 * custom_claims) are left untouched, so only the fields below are walked into.
 */
const MESSAGE_FIELDS = new Set([
  "rate_limit_policy",
  "ip_restriction",
  "issued_api_key",
  "imported_api_key",
  "requests",
]);

/** Keys that would set or shadow a prototype when copied with `out[key] = v`: a 400 at any depth. */
export const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

const CAMEL = /[A-Z]/;
const snake = (k: string): string => k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);

export function normaliseMessage(value: unknown, path = ""): unknown {
  if (Array.isArray(value)) return value.map((v, i) => normaliseMessage(v, `${path}[${i}]`));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const name = CAMEL.test(key) ? snake(key) : key;
    const field = path ? `${path}.${name}` : name;
    // `_Proto__` becomes `__proto__` in snake_case
    if (FORBIDDEN_KEYS.has(name)) throw badRequest(field, "this key is not allowed");
    if (Object.hasOwn(out, name) || (name !== key && Object.hasOwn(value, name))) {
      throw badRequest(field, "given in both snake_case and lowerCamelCase");
    }
    if (v === null) continue;
    out[name] = MESSAGE_FIELDS.has(name) ? normaliseMessage(v, field) : v;
  }
  return out;
}

/** RFC 3339 UTC; fractional seconds omitted when zero, else 3 digits (docs/wire.md#json-responses). */
export function timestamp(d: Date | null | undefined): string | null {
  if (!d) return null;
  const iso = d.toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

// Verify answers the same few expiry times over and over: formatting them once saves a Date and
// a toISOString per response. Bounded by clearing.
const stamps = new Map<number, string>();
const MAX_STAMPS = 4096;

export function timestampMs(ms: number | null | undefined): string | null {
  if (ms == null) return null;
  let s = stamps.get(ms);
  if (s === undefined) {
    s = timestamp(new Date(ms))!;
    if (stamps.size >= MAX_STAMPS) stamps.clear();
    stamps.set(ms, s);
  }
  return s;
}

/** Reads a query parameter given in snake_case or lowerCamelCase; all values (repeatable params). */
export function queryAll(url: URL, snakeName: string): string[] {
  const camel = snakeName.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
  const values = url.searchParams.getAll(snakeName);
  return camel === snakeName ? values : values.concat(url.searchParams.getAll(camel));
}

export function queryOne(url: URL, snakeName: string): string | undefined {
  const all = queryAll(url, snakeName);
  if (all.length > 1) throw badRequest(snakeName, "given more than once");
  return all[0];
}
