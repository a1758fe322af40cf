import { INTERNAL_MESSAGE } from "../errors.js";
import { KeyStatus, KeyVisibility, VerificationError, type KeyKind, type RateLimitPolicy } from "../types.js";
import type { CachedKey } from "./cache.js";

/** The derived-token kinds, verified without storage. */
export type TokenType = "jwt" | "macaroon";
export type CredentialType = KeyKind | TokenType;
export type CacheOutcome = "HIT" | "MISS" | "SKIP";

/**
 * The batch's `Ory-Talos-Cache` from its items' outcomes (docs/verification.md#batch-verify): SKIP when no item consulted
 * the cache, else MISS when any item missed, else HIT.
 */
export function combineCacheOutcomes(a: CacheOutcome, b: CacheOutcome): CacheOutcome {
  if (a === "MISS" || b === "MISS") return "MISS";
  return a === "HIT" || b === "HIT" ? "HIT" : "SKIP";
}

/** The outcome of one verification (docs/verification.md#verify-response), transport-neutral. Times are ms since epoch. */
export interface Verification {
  isValid: boolean;
  status: KeyStatus;
  keyId: string;
  actorId: string;
  scopes: string[];
  expireTime: number | null;
  metadata: Record<string, unknown> | null;
  rateLimitPolicy: RateLimitPolicy | null;
  visibility: KeyVisibility;
  issuer: string;
  errorCode: VerificationError;
  errorMessage: string;
  rateLimitRemaining: number;
  rateLimitResetTime: number | null;
  /** transport hints, not part of the body */
  credentialType: CredentialType | null;
  cache: CacheOutcome;
  /** Cache-Control: no-store (key has CIDRs, or enforcement on and a policy) */
  noStore: boolean;
  /** RateLimit-Policy header source: a found key's policy */
  policyHeader: RateLimitPolicy | null;
  /** RateLimit header: set when the limiter evaluated this request */
  limiter: { remaining: number; resetTimeMs: number; retryAfterS: number } | null;
}

const EMPTY: Verification = {
  isValid: false,
  status: KeyStatus.UNSPECIFIED,
  keyId: "",
  actorId: "",
  scopes: [],
  expireTime: null,
  metadata: null,
  rateLimitPolicy: null,
  visibility: KeyVisibility.UNSPECIFIED,
  issuer: "",
  errorCode: VerificationError.UNSPECIFIED,
  errorMessage: "",
  rateLimitRemaining: 0,
  rateLimitResetTime: null,
  credentialType: null,
  cache: "SKIP",
  noStore: false,
  policyHeader: null,
  limiter: null,
};

const MESSAGES: Record<number, string> = {
  [VerificationError.INVALID_FORMAT]: "invalid credential format",
  [VerificationError.EXPIRED]: "API key expired",
  [VerificationError.REVOKED]: "API key revoked",
  [VerificationError.NOT_FOUND]: "API key not found",
  [VerificationError.SIGNATURE_INVALID]: "signature invalid",
  [VerificationError.INTERNAL]: INTERNAL_MESSAGE,
  [VerificationError.IP_NOT_ALLOWED]: "client IP address not allowed",
  [VerificationError.RATE_LIMITED]: "rate limit exceeded",
};

/** A failure that carries nothing but the code (no enumeration signal, docs/verification.md#verify-response). */
export function bareFailure(code: VerificationError, type: CredentialType | null, message = MESSAGES[code] ?? ""): Verification {
  return { ...EMPTY, scopes: [], errorCode: code, errorMessage: message, credentialType: type };
}

/** Success, or a failure that carries the key's fields (EXPIRED, REVOKED, IP_NOT_ALLOWED, RATE_LIMITED). */
export function keyOutcome(rec: CachedKey, code: VerificationError, issuer: string): Verification {
  const ok = code === VerificationError.UNSPECIFIED;
  return {
    ...EMPTY,
    isValid: ok,
    status: ok ? KeyStatus.ACTIVE : code === VerificationError.EXPIRED ? KeyStatus.EXPIRED : KeyStatus.UNSPECIFIED,
    keyId: rec.keyId,
    actorId: rec.actorId,
    scopes: rec.scopes,
    expireTime: rec.expireTime,
    metadata: rec.metadata,
    rateLimitPolicy: ok || code === VerificationError.RATE_LIMITED ? rec.rateLimitPolicy : null,
    visibility: ok ? rec.visibility || KeyVisibility.SECRET : KeyVisibility.UNSPECIFIED,
    issuer: ok ? issuer : "",
    errorCode: code,
    errorMessage: ok ? "" : (MESSAGES[code] ?? ""),
    credentialType: rec.kind,
  };
}
