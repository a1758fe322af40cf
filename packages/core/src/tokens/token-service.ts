import { TalosError } from "../errors.js";
import type { ParsedIp } from "../net/cidr.js";
import { deriveToken, type DeriveDeps, type DeriveTokenInput, type DerivedToken } from "./derive-token.js";
import type { PublicJwk } from "./signing-keys.js";

/** What the transports need for derived tokens: the derive verb and the public key set. */
export interface DerivedTokenService {
  derive(input: DeriveTokenInput, clientIp: ParsedIp | null): Promise<DerivedToken>;
  /** throws internal_server_error when no asymmetric key is configured (docs/derived-tokens.md#jwks) */
  jwks(): { keys: PublicJwk[] };
}

export function createTokenService(deps: DeriveDeps): DerivedTokenService {
  const jwks = deps.keys.jwks;
  return {
    derive: (input, clientIp) => deriveToken(deps, input, clientIp),
    jwks() {
      if (jwks.keys.length === 0) throw new TalosError("internal_server_error", "no active signing keys found");
      return jwks;
    },
  };
}
