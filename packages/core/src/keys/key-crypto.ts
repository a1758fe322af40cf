import type { Config } from "../config/types.js";
import type { Clock } from "../clock.js";
import { createIssuedKeyChecker, mintIssuedKey, type ParsedIssuedKey } from "./issued-key.js";
import { KeyVisibility } from "../types.js";
import { routeCredential, type CredentialRoute } from "./route.js";

/**
 * The key-format half of the service, bound to the configuration once: which prefixes and HMAC
 * secrets are accepted, how new secrets are minted, how credentials are routed.
 */
export interface KeyCrypto {
  route(credential: string): CredentialRoute;
  /** docs/verification.md#pipeline step 1: CPU-only checks of an issued key. */
  checkIssued(parsed: ParsedIssuedKey): boolean;
  mint(keyId: string, visibility: number, nowMs: number): string;
  /** Current HMAC secret first, then non-expired retired ones. */
  hmacSecrets(): string[];
  hasPublicPrefix: boolean;
}

export function createKeyCrypto(config: Config, clock: Clock): KeyCrypto {
  const { api_keys, clock_skew, derived_tokens } = config.credentials;
  const hmac = config.secrets.hmac;
  const hmacSecrets = (): string[] => {
    const now = clock();
    const out = [hmac.current];
    for (const r of hmac.retired) if (r.expires_at === null || r.expires_at > now) out.push(r.value);
    return out;
  };
  const prefixes = [api_keys.prefix.current, ...api_keys.prefix.retired, ...api_keys.prefix.public_retired];
  if (api_keys.prefix.public_current) prefixes.push(api_keys.prefix.public_current);
  const checkIssued = createIssuedKeyChecker({
    prefixes,
    secrets: hmacSecrets,
    maxTtlMs: api_keys.max_ttl,
    clockSkewMs: clock_skew,
    now: clock,
  });
  const macaroonPrefixes = [derived_tokens.macaroon.prefix.current, ...derived_tokens.macaroon.prefix.retired];
  return {
    route: (credential) => routeCredential(credential, { macaroonPrefixes }),
    checkIssued,
    mint: (keyId, visibility, nowMs) =>
      mintIssuedKey({
        prefix: visibility === KeyVisibility.PUBLIC && api_keys.prefix.public_current ? api_keys.prefix.public_current : api_keys.prefix.current,
        secret: hmac.current,
        keyId,
        unixSeconds: Math.floor(nowMs / 1000),
      }),
    hmacSecrets,
    hasPublicPrefix: api_keys.prefix.public_current !== null,
  };
}
