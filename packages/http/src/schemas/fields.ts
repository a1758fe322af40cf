import { z } from "zod";
import {
  CREDENTIAL_MAX_CHARS,
  KEY_FIELD_LIMITS,
  RATE_LIMIT_QUOTA_MAX,
  RATE_LIMIT_WINDOW_MAX_SECONDS,
  parseCidr,
  parseProtoDurationSeconds,
  parseTtl,
  rateLimitUnitProblem,
} from "@talos/core";

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

const L = KEY_FIELD_LIMITS;
const atMostChars = (n: number) => `must be at most ${n} characters`;

export const nameField = storedString().max(L.nameChars, atMostChars(L.nameChars));
export const actorIdField = storedString().max(L.actorIdChars, atMostChars(L.actorIdChars));
export const scopesField = z
  .array(storedString().min(1, `must be 1 to ${L.scopeChars} characters`).max(L.scopeChars, `must be 1 to ${L.scopeChars} characters`), expected("an array of strings"))
  .max(L.scopes, `must have at most ${L.scopes} entries`);

/** Struct: any JSON object, at most `maxBytes` bytes as compact JSON. */
export const structField = (maxBytes: number) =>
  z
    .record(z.string(), z.unknown(), expected("a JSON object"))
    .refine((v) => utf8.encode(JSON.stringify(v)).length <= maxBytes, `must be at most ${maxBytes} bytes as JSON`);

/** Key metadata: a Struct that is stored, so every key and string value must be storable text. */
export const metadataField = structField(L.metadataBytes).refine((v) => !unstorable(v), UNSTORABLE_MESSAGE);

/** ttl (docs/wire.md#durations): Go, protobuf or extended duration; "" and "0s" mean "use the default" (undefined). */
export const ttlField = z.string(expected("a duration string such as \"3600s\", \"720h\" or \"30d\"")).transform((v, ctx): number | undefined => {
  const ttl = parseTtl(v);
  if ("error" in ttl) {
    ctx.addIssue({ code: "custom", message: ttl.error });
    return z.NEVER;
  }
  return ttl.ms;
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
      quota: int64Field.refine((n) => n >= 1 && n <= RATE_LIMIT_QUOTA_MAX, `must be between 1 and ${RATE_LIMIT_QUOTA_MAX}`),
      window: z.string(expected("a duration string such as \"60s\"")).transform((v, ctx): number => {
        const s = parseProtoDurationSeconds(v);
        if (s === null) {
          ctx.addIssue({ code: "custom", message: `invalid duration ${JSON.stringify(v)}; use seconds such as "60s"` });
          return z.NEVER;
        }
        if (s < 1 || s > RATE_LIMIT_WINDOW_MAX_SECONDS) {
          ctx.addIssue({ code: "custom", message: `must be between 1s and ${RATE_LIMIT_WINDOW_MAX_SECONDS}s` });
          return z.NEVER;
        }
        return s;
      }),
      unit: z
        .string(expected("a string"))
        .transform((v, ctx) => {
          const problem = rateLimitUnitProblem(v);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
          return v;
        })
        .optional(),
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
        .max(L.allowedCidrs, `must have at most ${L.allowedCidrs} entries`)
        .optional(),
    },
    expected("an object"),
  )
  .transform((r) => (r.allowed_cidrs && r.allowed_cidrs.length > 0 ? r.allowed_cidrs : null));

export const requestIdField = storedString().max(L.requestIdChars, atMostChars(L.requestIdChars));
export const credentialField = z.string(expected("a string")).max(CREDENTIAL_MAX_CHARS, atMostChars(CREDENTIAL_MAX_CHARS));
