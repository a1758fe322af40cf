import { ConfigurationError, MAX_BATCH_VERIFY, NO_SIGNING_KEYS, TalosError, TokenAlgorithm, revokeKey, type ParsedIp, type Verification, type VerifyOptions } from "@talos/core";
import {
  BatchVerifyApiKeysRequest,
  BatchVerifyApiKeysResponse,
  DeriveTokenRequest,
  DeriveTokenResponse,
  RevokeApiKeyBody,
  VerifyApiKeyRequest,
  VerifyApiKeyResponse,
  cacheModeOf,
  clientIp,
  clientIpOf,
  empty,
  encodeVerification,
  json,
  jsonResponse,
  parseWith,
  readBody,
  readJsonObject,
  sendPlain,
  timestampMs,
  verificationHeaders,
  viewOf,
  type AppDeps,
  type FastRoute,
  type PlainResponse,
  type RequestView,
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
  readonly #req: RequestView;
  #ip: ParsedIp | null | undefined;
  constructor(deps: AppDeps, req: RequestView) {
    this.#deps = deps;
    this.#req = req;
    this.cacheMode = cacheModeOf(req);
  }
  get clientIp(): ParsedIp | null {
    if (this.#ip === undefined) this.#ip = clientIpOf(this.#deps, this.#req);
    return this.#ip;
  }
}

const VERIFY_PATH = "/v2alpha1/admin/apiKeys:verify";

/** POST apiKeys:verify from a parsed body: the one handler of its Hono route and its fast route. */
function verifyHandler(deps: AppDeps): FastRoute["handle"] {
  const { verifier, ctx } = deps;
  const answer = (v: Verification): PlainResponse => ({ status: 200, body: encodeVerification(v), headers: verificationHeaders(v, ctx.clock()) });
  // not async: a warm hit is answered without a promise (a throw here is the fast route's to map, as a rejection was)
  return (body, req) => {
    const { credential } = parseWith(VerifyApiKeyRequest, body);
    if (!credential) throw credentialRequired();
    const v = verifier.verify(credential, new LazyVerifyOptions(deps, req));
    return v instanceof Promise ? v.then(answer) : answer(v);
  };
}

/** Verification served from node:http ahead of Hono (see FastRoute). */
export function verifyFastRoutes(deps: AppDeps): FastRoute[] {
  return [{ path: VERIFY_PATH, handle: verifyHandler(deps) }];
}

export function verifyRoutes(deps: AppDeps): RouteDef[] {
  const { verifier, ctx } = deps;
  const verify = verifyHandler(deps);
  return [
    {
      method: "POST",
      path: VERIFY_PATH,
      operationId: "adminVerifyApiKey",
      summary: "Verify an API key or derived token; every outcome is 200 with is_valid",
      tags: TAG,
      body: VerifyApiKeyRequest,
      responses: { 200: { description: "Verification result", schema: VerifyApiKeyResponse }, ...errors(400) },
      handler: async (c) => sendPlain(c, await verify(await readJsonObject(c), viewOf(c))),
    },
    {
      method: "POST",
      path: "/v2alpha1/admin/apiKeys:batchVerify",
      operationId: "adminBatchVerifyApiKeys",
      summary: `Verify 1 to ${MAX_BATCH_VERIFY} credentials; results in request order`,
      tags: TAG,
      body: BatchVerifyApiKeysRequest,
      responses: { 200: { description: "Results", schema: BatchVerifyApiKeysResponse }, ...errors(400) },
      handler: async (c) => {
        const { requests = [] } = await readBody(c, BatchVerifyApiKeysRequest);
        const out = await verifier.verifyBatch(
          requests.map((r) => r.credential ?? ""),
          new LazyVerifyOptions(deps, viewOf(c)),
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
        if (!deps.tokens) throw new ConfigurationError(NO_SIGNING_KEYS);
        const t = await deps.tokens.derive(
          { credential: b.credential, algorithm: b.algorithm ?? TokenAlgorithm.UNSPECIFIED, ttlMs: b.ttl, scopes: b.scopes, customClaims: b.custom_claims },
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
