import { randomUUID } from "node:crypto";
import type { Config } from "../config/types.js";
import { NIL_NID, keyRecord } from "../types.js";
import type { Verification } from "../verify/result.js";
import { buildClaims } from "./claims.js";
import { TokenAlgorithm, mintToken } from "./derive-token.js";
import { generateSigningJwk, type JwkKind } from "./generate-jwk.js";
import { signingKeysFromJwks } from "./signing-keys.js";
import { createTokenVerifier } from "./verify-token.js";

export interface TokenBench {
  /** claims + signature (JWT) or HMAC chain (macaroon); no parent lookup */
  mint(): Promise<string>;
  verify(token: string): Promise<Verification>;
}

/**
 * Benchmark hook: the crypto half of derive and the whole token verify path, without a database.
 * `config` must be a loaded configuration (issuer, HMAC secret); the signing key is generated.
 */
export async function createTokenBench(config: Config, opts: { algorithm: "jwt" | "macaroon"; key?: JwkKind } = { algorithm: "jwt" }): Promise<TokenBench> {
  const keys = await signingKeysFromJwks([{ keys: [await generateSigningJwk(opts.key ?? "eddsa")] }]);
  const clock = () => Date.now();
  const verifier = createTokenVerifier({ config, clock, nid: NIL_NID, keys });
  const parent = keyRecord({
    nid: NIL_NID,
    kind: "issued",
    keyId: randomUUID(),
    name: "bench",
    actorId: "bench-actor",
    scopes: ["read", "write"],
    metadata: { team: "bench" },
  });
  const algorithm = opts.algorithm === "macaroon" ? TokenAlgorithm.MACAROON : TokenAlgorithm.JWT;
  return {
    mint() {
      const iat = Math.floor(Date.now() / 1000);
      const claims = buildClaims({ parent, jti: randomUUID(), issuer: config.credentials.issuer, nid: NIL_NID, iat, exp: iat + 3600, scopes: parent.scopes });
      return mintToken(config, keys, algorithm, claims);
    },
    verify: (token) => verifier.verify(opts.algorithm, token, null),
  };
}
