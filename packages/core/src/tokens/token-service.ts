import { ConfigurationError } from "../errors.js";
import type { ParsedIp } from "../net/cidr.js";
import { deriveToken, type DeriveDeps, type DeriveTokenInput, type DerivedToken } from "./derive-token.js";
import { NO_SIGNING_KEYS, signerAdvice, type PublicJwk } from "./signing-keys.js";

/** What the transports need for derived tokens: the derive verb and the public key set. */
export interface DerivedTokenService {
  derive(input: DeriveTokenInput, clientIp: ParsedIp | null): Promise<DerivedToken>;
  /** throws ConfigurationError (a 500 naming the setting) when no asymmetric key is configured (docs/derived-tokens.md#jwks) */
  jwks(): { keys: PublicJwk[] };
  /** why JWTs cannot be signed and which setting fixes it (readiness detail); null when they can */
  readonly signerAdvice: string | null;
}

/** `onSignerMissing`: told of every request answered 500 for want of a signing key (a metric). */
export function createTokenService(deps: DeriveDeps & { onSignerMissing?: (operation: "derive" | "jwks") => void }): DerivedTokenService {
  // read the key set on every call: https:// key sets are refreshed in place (docs/derived-tokens.md#jwks)
  return {
    derive: (input, clientIp) =>
      deriveToken(deps, input, clientIp).catch((e: unknown) => {
        if (e instanceof ConfigurationError) deps.onSignerMissing?.("derive");
        throw e;
      }),
    jwks() {
      const jwks = deps.keys.jwks;
      if (jwks.keys.length === 0) {
        deps.onSignerMissing?.("jwks");
        throw new ConfigurationError(NO_SIGNING_KEYS);
      }
      return jwks;
    },
    get signerAdvice() {
      return signerAdvice(deps.keys);
    },
  };
}
