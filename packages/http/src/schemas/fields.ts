import { z } from "zod";
import { parseDuration, parseProtoDurationSeconds, parseCidr } from "@talos/core";

const MAX_TTL_MS = 315_360_000_000;
const MAX_INT64 = Number.MAX_SAFE_INTEGER;
const utf8 = new TextEncoder();

/** Error option: "is required" when absent, "must be <what>" for a wrong type. */
export const expected = (what: string) => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined ? "is required" : `must be ${what}`),
});

/**
 * Stored text must be valid Unicode without U+0000: PostgreSQL text and jsonb cannot hold NUL,
 * and jsonb refuses lone surrogates (text would silently turn them into U+FFFD).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching NUL is the point of this pattern
const UNSTORABLE = /\u0000|\p{Cs}/u;
const UNSTORABLE_MESSAGE = "must be valid Unicode text without NUL characters";
const unstorable = (v: unknown): boolean => {
  if (typeof v === "string") return UNSTORABLE.test(v);
  if (Array.isArray(v)) return v.some(unstorable);
  if (v !== null && typeof v === "object") return Object.entries(v).some(([k, x]) => UNSTORABLE.test(k) || unstorable(x));
  return false;
};
/** A string that is stored. */
export const storedString = (what = "a string") => z.string(expected(what)).refine((v) => !UNSTORABLE.test(v), UNSTORABLE_MESSAGE);

export const nameField = storedString().max(256, "must be at most 256 characters");
export const scopesField = z
  .array(storedString().min(1, "must be 1 to 128 characters").max(128, "must be 1 to 128 characters"), expected("an array of strings"))
  .max(64, "must have at most 64 entries");

/** Struct: any JSON object, at most 4096 bytes as compact JSON. */
export const structField = (maxBytes = 4096) =>
  z
    .record(z.string(), z.unknown(), expected("a JSON object"))
    .refine((v) => utf8.encode(JSON.stringify(v)).length <= maxBytes, `must be at most ${maxBytes} bytes as JSON`);

/** Key metadata: a Struct that is stored, so every key and string value must be storable text. */
export const metadataField = structField().refine((v) => !unstorable(v), UNSTORABLE_MESSAGE);

/** ttl (docs/wire.md#durations): Go, protobuf or extended duration; "" and "0s" mean "use the default" (undefined). */
export const ttlField = z.string(expected("a duration string such as \"3600s\", \"720h\" or \"30d\"")).transform((v, ctx): number | undefined => {
  if (v === "") return undefined;
  const ms = parseDuration(v);
  if (ms === null) {
    ctx.addIssue({ code: "custom", message: `invalid duration ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  if (ms === 0) return undefined;
  if (ms < 1000 || ms > MAX_TTL_MS) {
    ctx.addIssue({ code: "custom", message: "must be between 1s and 315360000s" });
    return z.NEVER;
  }
  return ms;
});

/** int64: JSON number or decimal string, a safe integer. */
export const int64Field = z.union([z.number(), z.string()], expected("an integer")).transform((v, ctx): number => {
  const n = typeof v === "number" ? v : /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: "custom", message: "must be an integer (at most 2^53-1)" });
    return z.NEVER;
  }
  return n;
});

export const rateLimitPolicyField = z
  .object(
    {
      quota: int64Field.refine((n) => n >= 1 && n <= MAX_INT64, "must be between 1 and 9007199254740991"),
      window: z.string(expected("a duration string such as \"60s\"")).transform((v, ctx): number => {
        const s = parseProtoDurationSeconds(v);
        if (s === null) {
          ctx.addIssue({ code: "custom", message: `invalid duration ${JSON.stringify(v)}; use seconds such as "60s"` });
          return z.NEVER;
        }
        if (s < 1 || s > 315_360_000) {
          ctx.addIssue({ code: "custom", message: "must be between 1s and 315360000s" });
          return z.NEVER;
        }
        return s;
      }),
      unit: storedString().max(64, "must be at most 64 characters").optional(),
    },
    expected("an object"),
  )
  .transform((p) => ({ quota: p.quota, windowSeconds: p.window, unit: p.unit ?? "" }));

export const ipRestrictionField = z
  .object(
    {
      allowed_cidrs: z
        .array(
          z.string(expected("a string")).refine((c) => parseCidr(c) !== null, "must be an IPv4 or IPv6 CIDR with a prefix length, such as 10.0.0.0/8"),
          expected("an array of strings"),
        )
        .max(64, "must have at most 64 entries")
        .optional(),
    },
    expected("an object"),
  )
  .transform((r) => (r.allowed_cidrs && r.allowed_cidrs.length > 0 ? r.allowed_cidrs : null));

export const requestIdField = storedString().max(36, "must be at most 36 characters");
export const credentialField = z.string(expected("a string")).max(8192, "must be at most 8192 characters");
