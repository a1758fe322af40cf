import { randomUUID } from "node:crypto";
import type { Config } from "../config/types.js";
import { formatDurationMs } from "../duration.js";
import { ConfigurationError, TalosError, badRequest } from "../errors.js";
import { macaroonRootKey } from "../keys/derived-key-ids.js";
import { ipInCidrs, compileCidrs, type ParsedIp } from "../net/cidr.js";
import type { ServiceContext } from "../services/context.js";
import { KeyStatus, keyStatus, type KeyRecord } from "../types.js";
import type { Verifier } from "../verify/verifier.js";
import { buildClaims, checkCustomClaims, effectiveScopes } from "./claims.js";
import { signJwt } from "./jwt.js";
import { encodeMacaroonToken, mintMacaroon } from "./macaroon.js";
import { NO_SIGNING_KEYS, signerAdvice, type SigningKeySet } from "./signing-keys.js";

export const TokenAlgorithm = { UNSPECIFIED: 0, JWT: 1, MACAROON: 2 } as const;

export interface DeriveTokenInput {
  credential: string;
  /** TokenAlgorithm number; 0 means JWT */
  algorithm: number;
  /** undefined = `credentials.derived_tokens.default_ttl` */
  ttlMs?: number;
  /** undefined or empty = the parent's scopes */
  scopes?: string[];
  customClaims?: Record<string, unknown>;
}

export interface DerivedToken {
  token: string;
  /** ms since epoch (whole seconds) */
  expireTime: number;
  scopes: string[];
  claims: Record<string, unknown>;
}

export interface DeriveDeps {
  ctx: ServiceContext;
  verifier: Pick<Verifier, "loadParent">;
  keys: SigningKeySet;
}

const utf8 = new TextEncoder();

/** Mints the token for already checked claims. */
async function mintToken(config: Config, keys: SigningKeySet, algorithm: number, claims: Record<string, unknown>): Promise<string> {
  if (algorithm === TokenAlgorithm.MACAROON) {
    const m = mintMacaroon({
      rootKey: macaroonRootKey(config.secrets.hmac.current),
      location: config.credentials.issuer,
      identifier: utf8.encode(JSON.stringify({ jti: claims.jti })),
      caveats: [utf8.encode(JSON.stringify(claims))],
    });
    return encodeMacaroonToken(config.credentials.derived_tokens.macaroon.prefix.current, m);
  }
  if (!keys.signer) throw new ConfigurationError(signerAdvice(keys) ?? NO_SIGNING_KEYS, { signing_key_id: keys.signingKeyId });
  return signJwt(claims, keys.signer);
}

/** The derived token's lifetime (docs/derived-tokens.md#derive): explicit ttl is capped with 400s, the default is clamped to the parent. */
function lifetime(ctx: ServiceContext, parent: KeyRecord, ttlMs: number | undefined, now: number): number {
  const { default_ttl, max_ttl } = ctx.config.credentials.derived_tokens;
  const remaining = parent.expireTime ? parent.expireTime.getTime() - now : Number.POSITIVE_INFINITY;
  const lifetimeError = () => new TalosError("bad_request", "ttl exceeds the parent key's remaining lifetime", { field: "ttl" });
  if (ttlMs === undefined) {
    const ttl = Math.min(max_ttl > 0 ? Math.min(default_ttl, max_ttl) : default_ttl, remaining);
    if (ttl < 1000) throw lifetimeError();
    return ttl;
  }
  if (max_ttl > 0 && ttlMs > max_ttl) {
    throw new TalosError("bad_request", `ttl exceeds the configured maximum of ${formatDurationMs(max_ttl)}`, { field: "ttl" });
  }
  if (ttlMs > remaining) throw lifetimeError();
  return ttlMs;
}

/** POST /v2alpha1/admin/apiKeys:derive (docs/derived-tokens.md#derive). */
export async function deriveToken(deps: DeriveDeps, input: DeriveTokenInput, clientIp: ParsedIp | null): Promise<DerivedToken> {
  const { ctx } = deps;
  if (input.credential === "") throw new TalosError("credential_required", "credential is required", { field: "credential" });
  const route = ctx.crypto.route(input.credential);
  if (route.type === "jwt" || route.type === "macaroon") {
    throw new TalosError("invalid_token_type", "derived tokens cannot be used to derive tokens");
  }
  if (input.algorithm !== TokenAlgorithm.UNSPECIFIED && input.algorithm !== TokenAlgorithm.JWT && input.algorithm !== TokenAlgorithm.MACAROON) {
    throw badRequest("algorithm", "must be TOKEN_ALGORITHM_JWT or TOKEN_ALGORITHM_MACAROON");
  }
  checkCustomClaims(input.customClaims);

  const loaded = await deps.verifier.loadParent(input.credential);
  if ("error" in loaded) throw new TalosError("unauthorized", "verify API key");
  const parent = loaded.record;
  const now = ctx.clock();
  const status = keyStatus(parent, now);
  if (status === KeyStatus.REVOKED) throw new TalosError("forbidden", "key is revoked");
  if (status === KeyStatus.EXPIRED) throw new TalosError("failed_precondition", "key is expired");
  if (parent.allowedCidrs && parent.allowedCidrs.length > 0 && !(clientIp && ipInCidrs(clientIp, compileCidrs(parent.allowedCidrs)))) {
    throw new TalosError("ip_not_allowed", "client IP address not allowed");
  }
  const scopes = effectiveScopes(parent.scopes, input.scopes);
  const ttl = lifetime(ctx, parent, input.ttlMs, now);

  const iat = Math.floor(now / 1000);
  const exp = Math.floor((now + ttl) / 1000);
  const claims = buildClaims({ parent, jti: randomUUID(), issuer: ctx.config.credentials.issuer, nid: ctx.nid, iat, exp, scopes, customClaims: input.customClaims });
  const algorithm = input.algorithm === TokenAlgorithm.MACAROON ? TokenAlgorithm.MACAROON : TokenAlgorithm.JWT;
  const token = await mintToken(ctx.config, deps.keys, algorithm, claims);
  ctx.hooks.event({
    event: "TokenDerived",
    kind: parent.kind,
    keyId: parent.keyId,
    actorId: parent.actorId,
    algorithm: algorithm === TokenAlgorithm.MACAROON ? "macaroon" : "jwt",
  });
  return { token, expireTime: exp * 1000, scopes, claims };
}
