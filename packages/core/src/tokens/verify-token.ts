import type { Clock } from "../clock.js";
import type { Config, RetiredValue } from "../config/types.js";
import { macaroonRootKey } from "../keys/derived-key-ids.js";
import type { ParsedIp } from "../net/cidr.js";
import { VerificationError } from "../types.js";
import { bareFailure, type Verification } from "../verify/result.js";
import type { TokenVerifier } from "../verify/verifier.js";
import { checkClaims, type ClaimCheck } from "./claims.js";
import { verifyJwtSignature } from "./jwt.js";
import { decodeMacaroonToken, macaroonSignatureMatches, macaroonSigningKey, type Macaroon } from "./macaroon.js";
import type { SigningKeySet } from "./signing-keys.js";

export interface TokenContext {
  config: Config;
  clock: Clock;
  nid: string;
  keys: SigningKeySet;
}

const live = (list: readonly RetiredValue[], now: number): string[] =>
  list.filter((r) => r.expires_at === null || r.expires_at > now).map((r) => r.value);

/** `credentials.issuer` plus the non-expired `credentials.issuer_retired` entries. */
function acceptedIssuers(config: Config, now: number): string[] {
  return [config.credentials.issuer, ...live(config.credentials.issuer_retired, now)];
}

/** Macaroon chain keys for the current and each non-expired retired HMAC secret, cached per secret. */
function macaroonKeys(config: Config): (now: number) => Uint8Array[] {
  const cache = new Map<string, Uint8Array>();
  const keyFor = (secret: string) => {
    let k = cache.get(secret);
    if (!k) cache.set(secret, (k = macaroonSigningKey(macaroonRootKey(secret))));
    return k;
  };
  return (now) => [config.secrets.hmac.current, ...live(config.secrets.hmac.retired, now)].map(keyFor);
}

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/** The claim set: exactly one first-party caveat holding a JSON object (docs/derived-tokens.md#macaroon). */
function caveatClaims(m: Macaroon): Record<string, unknown> | null {
  if (m.caveats.length !== 1) return null;
  try {
    const v: unknown = JSON.parse(utf8Strict.decode(m.caveats[0]!.identifier));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export interface DerivedTokenVerifier extends TokenVerifier {
  verifyJwt(token: string, clientIp: ParsedIp | null): Promise<Verification>;
  verifyMacaroon(token: string, clientIp: ParsedIp | null): Verification;
}

/** Stateless verification of derived tokens (docs/derived-tokens.md#jwt, docs/derived-tokens.md#macaroon): no storage, no cache, no rate limit. */
export function createTokenVerifier(tc: TokenContext): DerivedTokenVerifier {
  const { config, clock, nid, keys } = tc;
  const prefixes = [config.credentials.derived_tokens.macaroon.prefix.current, ...config.credentials.derived_tokens.macaroon.prefix.retired];
  const chainKeys = macaroonKeys(config);
  const check = (type: "jwt" | "macaroon", now: number, clientIp: ParsedIp | null): ClaimCheck => ({
    type,
    now,
    clockSkewMs: config.credentials.clock_skew,
    nid,
    issuers: acceptedIssuers(config, now),
    clientIp,
  });

  async function verifyJwt(token: string, clientIp: ParsedIp | null): Promise<Verification> {
    const r = await verifyJwtSignature(token, keys);
    if (!r.ok) return bareFailure(r.code, "jwt", r.message);
    return checkClaims(r.claims, check("jwt", clock(), clientIp));
  }

  function verifyMacaroon(token: string, clientIp: ParsedIp | null): Verification {
    let m: Macaroon;
    try {
      m = decodeMacaroonToken(token, prefixes);
    } catch {
      return bareFailure(VerificationError.INVALID_FORMAT, "macaroon");
    }
    if (m.caveats.some((c) => c.vid !== null)) return bareFailure(VerificationError.INVALID_FORMAT, "macaroon", "third-party caveats are not supported");
    const now = clock();
    if (!chainKeys(now).some((k) => macaroonSignatureMatches(m, k))) return bareFailure(VerificationError.SIGNATURE_INVALID, "macaroon");
    const claims = caveatClaims(m);
    if (!claims) return bareFailure(VerificationError.INVALID_FORMAT, "macaroon", "expected exactly one JSON caveat");
    return checkClaims(claims, check("macaroon", now, clientIp));
  }

  return {
    verifyJwt,
    verifyMacaroon,
    async verify(type, credential, clientIp) {
      try {
        return type === "jwt" ? await verifyJwt(credential, clientIp) : verifyMacaroon(credential, clientIp);
      } catch {
        return bareFailure(VerificationError.INTERNAL, type);
      }
    },
  };
}
