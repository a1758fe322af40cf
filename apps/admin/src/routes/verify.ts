import { TalosError, badRequest, revokeKey, type ParsedIp, type VerifyOptions } from "@talos/core";
import {
  BatchVerifyApiKeysRequest,
  BatchVerifyApiKeysResponse,
  DeriveTokenRequest,
  DeriveTokenResponse,
  RevokeApiKeyBody,
  VerifyApiKeyRequest,
  VerifyApiKeyResponse,
  cacheMode,
  clientIp,
  empty,
  encodeVerification,
  json,
  jsonResponse,
  readBody,
  timestampMs,
  verificationHeaders,
  type AppDeps,
  type Ctx,
  type RouteDef,
} from "@talos/http";
import { errors } from "./common.js";

const TAG = ["ApiKeys"];
const credentialRequired = () => new TalosError("credential_required", "credential is required", { field: "credential" });

/**
 * The client IP is resolved on first read: only keys with CIDRs and tokens with an `acl` need it.
 * A class, because an object literal with a getter is built on V8's slow path (~0.5 µs a request).
 */
class LazyVerifyOptions implements VerifyOptions {
  readonly cacheMode: VerifyOptions["cacheMode"];
  readonly #deps: AppDeps;
  readonly #c: Ctx;
  #ip: ParsedIp | null | undefined;
  constructor(deps: AppDeps, c: Ctx) {
    this.#deps = deps;
    this.#c = c;
    this.cacheMode = cacheMode(c);
  }
  get clientIp(): ParsedIp | null {
    if (this.#ip === undefined) this.#ip = clientIp(this.#deps, this.#c);
    return this.#ip;
  }
}

const verifyOptions = (deps: AppDeps, c: Ctx): VerifyOptions => new LazyVerifyOptions(deps, c);

export function verifyRoutes(deps: AppDeps): RouteDef[] {
  const { verifier, ctx } = deps.runtime;
  return [
    {
      method: "POST",
      path: "/v2alpha1/admin/apiKeys:verify",
      operationId: "adminVerifyApiKey",
      summary: "Verify an API key or derived token; every outcome is 200 with is_valid",
      tags: TAG,
      body: VerifyApiKeyRequest,
      responses: { 200: { description: "Verification result", schema: VerifyApiKeyResponse }, ...errors(400) },
      handler: async (c) => {
        const { credential } = await readBody(c, VerifyApiKeyRequest);
        if (!credential) throw credentialRequired();
        const v = await verifier.verify(credential, verifyOptions(deps, c));
        return jsonResponse(c, 200, encodeVerification(v), verificationHeaders(v, ctx.clock()));
      },
    },
    {
      method: "POST",
      path: "/v2alpha1/admin/apiKeys:batchVerify",
      operationId: "adminBatchVerifyApiKeys",
      summary: "Verify 1 to 100 credentials; results in request order",
      tags: TAG,
      body: BatchVerifyApiKeysRequest,
      responses: { 200: { description: "Results", schema: BatchVerifyApiKeysResponse }, ...errors(400) },
      handler: async (c) => {
        const { requests } = await readBody(c, BatchVerifyApiKeysRequest);
        if (!requests || requests.length === 0) throw badRequest("requests", "must contain 1 to 100 items");
        if (requests.length > 100) throw badRequest("requests", "must contain at most 100 items");
        const out = await verifier.verifyBatch(
          requests.map((r) => r.credential ?? ""),
          verifyOptions(deps, c),
        );
        return jsonResponse(c, 200, { results: out.results.map(encodeVerification) }, { "Ory-Talos-Cache": out.cache });
      },
    },
    {
      method: "POST",
      path: "/v2alpha1/admin/apiKeys:derive",
      operationId: "adminDeriveToken",
      summary: "Mint a short-lived JWT or macaroon from an API key",
      tags: TAG,
      body: DeriveTokenRequest,
      responses: { 200: { description: "The token", schema: DeriveTokenResponse }, ...errors(400, 401, 403, 409, 500) },
      handler: async (c) => {
        const b = await readBody(c, DeriveTokenRequest);
        if (!b.credential) throw credentialRequired();
        if (!deps.tokens) throw new TalosError("internal_server_error", "no active signing keys found");
        const t = await deps.tokens.derive(
          { credential: b.credential, algorithm: b.algorithm ?? 0, ttlMs: b.ttl, scopes: b.scopes, customClaims: b.custom_claims },
          clientIp(deps, c),
        );
        return json(200, { token: { token: t.token, expire_time: timestampMs(t.expireTime), scopes: t.scopes, claims: t.claims } });
      },
    },
    {
      method: "POST",
      path: "/v2alpha1/admin/apiKeys/{key_id}:revoke",
      summary: "Revoke an issued (UUID) or imported (64 hex) key by id",
      tags: TAG,
      body: RevokeApiKeyBody,
      responses: { 204: { description: "Revoked" }, ...errors(400, 404, 409) },
      handler: async (c, p) => {
        await revokeKey(ctx, null, p.key_id!, await readBody(c, RevokeApiKeyBody));
        return empty(204);
      },
    },
  ];
}
