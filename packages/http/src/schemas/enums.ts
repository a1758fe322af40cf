import { z } from "zod";

/** Wire names of the enums (docs/wire.md#enums), indexed by number. */
export const KEY_STATUS = ["KEY_STATUS_UNSPECIFIED", "KEY_STATUS_ACTIVE", "KEY_STATUS_REVOKED", "KEY_STATUS_EXPIRED"] as const;
export const KEY_VISIBILITY = ["KEY_VISIBILITY_UNSPECIFIED", "KEY_VISIBILITY_SECRET", "KEY_VISIBILITY_PUBLIC"] as const;
export const REVOCATION_REASON = [
  "REVOCATION_REASON_UNSPECIFIED",
  "REVOCATION_REASON_KEY_COMPROMISE",
  "REVOCATION_REASON_AFFILIATION_CHANGED",
  "REVOCATION_REASON_SUPERSEDED",
  "REVOCATION_REASON_PRIVILEGE_WITHDRAWN",
] as const;
export const TOKEN_ALGORITHM = ["TOKEN_ALGORITHM_UNSPECIFIED", "TOKEN_ALGORITHM_JWT", "TOKEN_ALGORITHM_MACAROON"] as const;
export const VERIFICATION_ERROR = [
  "VERIFICATION_ERROR_UNSPECIFIED",
  "VERIFICATION_ERROR_INVALID_FORMAT",
  "VERIFICATION_ERROR_EXPIRED",
  "VERIFICATION_ERROR_REVOKED",
  "VERIFICATION_ERROR_NOT_FOUND",
  "VERIFICATION_ERROR_SIGNATURE_INVALID",
  "VERIFICATION_ERROR_INTERNAL",
  "VERIFICATION_ERROR_IP_NOT_ALLOWED",
  "VERIFICATION_ERROR_RATE_LIMITED",
] as const;
export const BATCH_CREATE_ERROR = [
  "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_UNSPECIFIED",
  "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_INVALID_ARGUMENT",
  "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_ALREADY_EXISTS",
  "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_FAILED_PRECONDITION",
  "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_INTERNAL",
  "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_RESOURCE_EXHAUSTED",
] as const;

/** Request enum: the full value name or its number; anything else is a 400 naming the field. */
export function enumInput<const N extends readonly [string, ...string[]]>(names: N) {
  return z
    .union([z.enum(names), z.number(), z.string()])
    .transform((v, ctx): number => {
      if (typeof v === "number") {
        if (Number.isInteger(v) && v >= 0 && v < names.length) return v;
      } else {
        const i = names.indexOf(v);
        if (i >= 0) return i;
      }
      ctx.addIssue({ code: "custom", message: `unknown value ${JSON.stringify(v)}; expected one of ${names.join(", ")}` });
      return z.NEVER;
    });
}

/** Response enum: documented as the names. */
export const enumOutput = <const N extends readonly [string, ...string[]]>(names: N) => z.enum(names);
