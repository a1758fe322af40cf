import { VerificationError, type Verification } from "@talos/core";
import { KEY_STATUS, KEY_VISIBILITY, VERIFICATION_ERROR } from "./schemas/enums.js";
import { encodePolicy, type VerifyJson } from "./schemas/responses.js";
import { timestampMs } from "./codec.js";

/** VerifyApiKeyResponse in protojson (docs/verification.md#verify-response). */
export function encodeVerification(v: Verification): VerifyJson {
  return {
    is_valid: v.isValid,
    status: KEY_STATUS[v.status]!,
    key_id: v.keyId,
    actor_id: v.actorId,
    scopes: v.scopes,
    expire_time: timestampMs(v.expireTime),
    metadata: v.metadata,
    rate_limit_policy: encodePolicy(v.rateLimitPolicy),
    visibility: KEY_VISIBILITY[v.visibility]!,
    issuer: v.issuer,
    error_code: VERIFICATION_ERROR[v.errorCode]!,
    error_message: v.errorMessage,
    rate_limit_remaining: String(v.rateLimitRemaining),
    rate_limit_reset_time: timestampMs(v.rateLimitResetTime),
  };
}

/** Single-verify response headers (docs/wire.md#headers, docs/verification.md#rate-limit-headers). */
export function verificationHeaders(v: Verification, now: number): Record<string, string> {
  const h: Record<string, string> = { "Ory-Talos-Cache": v.cache };
  if (v.noStore) h["Cache-Control"] = "no-store";
  const p = v.policyHeader;
  if (p) {
    const unit = p.unit !== "" && p.unit !== "requests" ? quotedUnit(p.unit) : "";
    h["RateLimit-Policy"] = `"default";q=${p.quota};w=${p.windowSeconds}${unit}`;
  }
  if (v.limiter) {
    const t = Math.max(0, Math.ceil((v.limiter.resetTimeMs - now) / 1000));
    h["RateLimit"] = `"default";r=${v.limiter.remaining};t=${t}`;
    if (v.errorCode === VerificationError.RATE_LIMITED) h["Retry-After"] = String(Math.max(1, v.limiter.retryAfterS));
  }
  return h;
}

const SF_STRING = /^[\x20-\x7e]*$/;

/**
 * `;qu="<unit>"` as an RFC 9651 quoted string. Units are checked on input, but one stored before
 * that check may hold characters a quoted string cannot carry (CR, LF, non-ASCII): then no `qu`.
 */
function quotedUnit(unit: string): string {
  if (!SF_STRING.test(unit)) return "";
  return `;qu="${unit.replace(/[\\"]/g, "\\$&")}"`;
}
