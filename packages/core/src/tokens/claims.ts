import { TalosError, badRequest } from "../errors.js";
import { compileCidrs, ipInCidrs, type ParsedIp } from "../net/cidr.js";
import { KeyStatus, KeyVisibility, VerificationError, type KeyRecord } from "../types.js";
import { bareFailure, type Verification } from "../verify/result.js";

/** docs/derived-tokens.md#derive: rejected at the top level of `custom_claims`. */
export const RESERVED_CLAIMS: readonly string[] = ["jti", "sub", "iss", "aud", "iat", "exp", "nbf", "nid", "akid", "pid", "tty", "oid", "scp", "scope", "meta", "vis", "acl"];
/**
 * `act` is emitted by the server too (the parent's actor) but missing from the reference's list; letting a
 * caller set it would either be silently overwritten or spoof the actor, so it is rejected as well.
 */
const SERVER_CLAIMS = new Set([...RESERVED_CLAIMS, "act"]);
export const MAX_CUSTOM_CLAIMS_BYTES = 4096;

const utf8 = new TextEncoder();

/** 400 naming the claim for a reserved name; 400 for more than 4096 bytes of compact JSON. */
export function checkCustomClaims(claims: Record<string, unknown> | undefined): void {
  if (!claims) return;
  for (const name of Object.keys(claims)) {
    if (SERVER_CLAIMS.has(name)) throw badRequest("custom_claims", `"${name}" is a reserved claim name`);
  }
  if (utf8.encode(JSON.stringify(claims)).length > MAX_CUSTOM_CLAIMS_BYTES) {
    throw badRequest("custom_claims", `must be at most ${MAX_CUSTOM_CLAIMS_BYTES} bytes as JSON`);
  }
}

export interface ClaimInput {
  parent: KeyRecord;
  jti: string;
  issuer: string;
  nid: string;
  /** Unix seconds */
  iat: number;
  exp: number;
  scopes: string[];
  customClaims?: Record<string, unknown>;
}

/** The claim set of docs/derived-tokens.md#jwt, shared by the JWT payload and the macaroon caveat. */
export function buildClaims(c: ClaimInput): Record<string, unknown> {
  const out: Record<string, unknown> = {
    jti: c.jti,
    sub: c.parent.keyId,
    iss: c.issuer,
    iat: c.iat,
    nbf: c.iat,
    exp: c.exp,
    act: c.parent.actorId,
    nid: c.nid,
    scp: c.scopes,
  };
  if (c.parent.metadata !== null) out.meta = c.parent.metadata;
  out.vis = c.parent.visibility === KeyVisibility.PUBLIC ? "public" : "secret";
  if (c.parent.allowedCidrs && c.parent.allowedCidrs.length > 0) out.acl = c.parent.allowedCidrs;
  for (const [k, v] of Object.entries(c.customClaims ?? {})) if (!SERVER_CLAIMS.has(k)) out[k] = v;
  return out;
}

export interface ClaimCheck {
  type: "jwt" | "macaroon";
  now: number;
  clockSkewMs: number;
  nid: string;
  /** the current issuer and non-expired retired ones */
  issuers: readonly string[];
  clientIp: ParsedIp | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const optionalString = (v: unknown): boolean => v === undefined || typeof v === "string";

/** Claims whose types make the token unreadable are INVALID_FORMAT, like an undecodable token. */
function wellFormed(c: Record<string, unknown>): boolean {
  if (!isNumber(c.exp) || (c.nbf !== undefined && !isNumber(c.nbf))) return false;
  if (!optionalString(c.sub) || !optionalString(c.akid) || !optionalString(c.act) || !optionalString(c.vis)) return false;
  if (c.scp !== undefined ? !isStringArray(c.scp) : c.scope !== undefined && typeof c.scope !== "string" && !isStringArray(c.scope)) return false;
  if (c.meta !== undefined && c.meta !== null && !isObject(c.meta)) return false;
  if (c.acl !== undefined && !isStringArray(c.acl)) return false;
  return true;
}

function scopesOf(c: Record<string, unknown>): string[] {
  if (isStringArray(c.scp)) return c.scp;
  if (isStringArray(c.scope)) return c.scope;
  if (typeof c.scope === "string") return c.scope.split(" ").filter((s) => s !== "");
  return [];
}

/** Custom (non-server) claims overlaid by `meta`; null when there are neither. */
function metadataOf(c: Record<string, unknown>): Record<string, unknown> | null {
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(c)) {
    if (SERVER_CLAIMS.has(k)) continue;
    (out ??= {})[k] = v;
  }
  if (isObject(c.meta)) out = { ...out, ...c.meta };
  return out;
}

/** docs/derived-tokens.md#jwt "Response mapping"; `code` decides which fields a failure keeps (docs/verification.md#verification-error-codes). */
export function claimsOutcome(type: "jwt" | "macaroon", c: Record<string, unknown>, code: VerificationError, message?: string): Verification {
  const ok = code === VerificationError.UNSPECIFIED;
  const base = bareFailure(code, type, message);
  return {
    ...base,
    isValid: ok,
    status: ok ? KeyStatus.ACTIVE : code === VerificationError.EXPIRED ? KeyStatus.EXPIRED : KeyStatus.UNSPECIFIED,
    keyId: typeof c.akid === "string" && c.akid !== "" ? c.akid : typeof c.sub === "string" ? c.sub : "",
    actorId: typeof c.act === "string" ? c.act : "",
    scopes: scopesOf(c),
    expireTime: isNumber(c.exp) ? Math.round(c.exp * 1000) : null,
    metadata: metadataOf(c),
    visibility: ok ? (c.vis === "public" ? KeyVisibility.PUBLIC : KeyVisibility.SECRET) : KeyVisibility.UNSPECIFIED,
    issuer: ok && typeof c.iss === "string" ? c.iss : "",
    errorMessage: ok ? "" : base.errorMessage,
    // a sealed allowlist makes the answer client-specific, as for keys with CIDRs
    noStore: Array.isArray(c.acl) && c.acl.length > 0,
  };
}

/**
 * The claim checks after the signature (docs/derived-tokens.md#jwt, docs/derived-tokens.md#macaroon), in the documented order: format, `exp`, `nbf`,
 * issuer, network, sealed CIDRs. JWTs get clock-skew leeway on `exp`; macaroons must be strictly unexpired.
 */
export function checkClaims(c: Record<string, unknown>, chk: ClaimCheck): Verification {
  const { type, now } = chk;
  if (!wellFormed(c)) return bareFailure(VerificationError.INVALID_FORMAT, type);
  if (c.tty !== undefined && c.tty !== "derived") return bareFailure(VerificationError.INVALID_FORMAT, type, "token type is not \"derived\"");
  const expMs = (c.exp as number) * 1000;
  const expired = type === "jwt" ? now >= expMs + chk.clockSkewMs : now >= expMs;
  if (expired) return claimsOutcome(type, c, VerificationError.EXPIRED, "token expired");
  if (isNumber(c.nbf) && c.nbf * 1000 > now + chk.clockSkewMs) return bareFailure(VerificationError.INVALID_FORMAT, type, "token not yet valid");
  if (typeof c.iss !== "string" || !chk.issuers.includes(c.iss)) return bareFailure(VerificationError.NOT_FOUND, type);
  if (c.nid !== chk.nid) return bareFailure(VerificationError.NOT_FOUND, type);
  if (isStringArray(c.acl) && c.acl.length > 0) {
    const ip = chk.clientIp;
    if (!ip || !ipInCidrs(ip, compileCidrs(c.acl))) return claimsOutcome(type, c, VerificationError.IP_NOT_ALLOWED);
  }
  return claimsOutcome(type, c, VerificationError.UNSPECIFIED);
}

/** 403 naming the first requested scope the parent does not hold; empty request → the parent's scopes. */
export function effectiveScopes(parentScopes: readonly string[], requested: readonly string[] | undefined): string[] {
  if (!requested || requested.length === 0) return [...parentScopes];
  const held = new Set(parentScopes);
  for (const s of requested) {
    if (!held.has(s)) throw new TalosError("forbidden", `requested scope '${s}' not available in parent key`);
  }
  return [...new Set(requested)];
}
