import { TalosError, VerificationError, type Verification } from "@talos/core";
import { ErrorEnvelope, cacheMode, clientIp, errorResponse, json, verificationHeaders, type AppDeps, type Ctx, type RouteDef } from "@talos/http";

/**
 * GET /gateway/verify (docs/verification.md#gateway-verify): the decision is the status, for nginx `auth_request`,
 * Envoy `ext_authz` (HTTP mode) and Traefik `forwardAuth`. Same verifier, cache, IP allowlist
 * and rate limits as apiKeys:verify.
 */
export function gatewayRoutes(deps: AppDeps): RouteDef[] {
  const { verifier, ctx } = deps;
  return [
    {
      method: "GET",
      path: "/gateway/verify",
      operationId: "gatewayVerify",
      summary:
        "Authorise a gateway sub-request: credential from `Authorization: Bearer` or `X-API-Key`; 200 with " +
        "X-Talos-Key-Id, X-Talos-Actor-Id and X-Talos-Scopes, 401, 403 or 429",
      tags: ["Gateway"],
      responses: {
        200: {
          description: "Valid credential",
          headers: {
            "X-Talos-Key-Id": "key id",
            "X-Talos-Actor-Id": "actor id (percent-encoded when it holds '%', spaces, control or non-ASCII characters)",
            "X-Talos-Scopes": "comma-separated scopes, each encoded like the actor id (a ',' inside a scope too)",
          },
        },
        401: { description: "Missing, malformed, unknown, expired or revoked credential", schema: ErrorEnvelope },
        403: { description: "Client IP not allowed", schema: ErrorEnvelope },
        429: { description: "Rate limited", schema: ErrorEnvelope },
      },
      handler: async (c) => {
        const credential = gatewayCredential(c);
        if (!credential) return unauthenticated("credential required");
        const v = await verifier.verify(credential, { clientIp: clientIp(deps, c), cacheMode: cacheMode(c) });
        return decide(v, verificationHeaders(v, ctx.clock()));
      },
    },
  ];
}

/** `Authorization: Bearer <credential>` (scheme case-insensitive), else `X-API-Key`. */
function gatewayCredential(c: Ctx): string {
  const auth = c.req.header("authorization")?.trim();
  if (auth) {
    const m = /^bearer[ \t]+(\S+)$/i.exec(auth);
    if (m) return m[1]!;
  }
  return c.req.header("x-api-key")?.trim() ?? "";
}

function decide(v: Verification, headers: Record<string, string>): Response {
  // The gateway must not cache a decision that depends on the caller's IP or a rate limit.
  const h: Record<string, string> = { ...headers, "Cache-Control": "no-store" };
  if (v.isValid) {
    h["X-Talos-Key-Id"] = v.keyId;
    h["X-Talos-Actor-Id"] = headerValue(v.actorId, false);
    h["X-Talos-Scopes"] = v.scopes.map((s) => headerValue(s, true)).join(",");
    return json(200, { key_id: v.keyId, actor_id: v.actorId, scopes: v.scopes }, h);
  }
  switch (v.errorCode) {
    case VerificationError.IP_NOT_ALLOWED:
      return errorResponse(new TalosError("ip_not_allowed", v.errorMessage), h);
    case VerificationError.RATE_LIMITED:
      return errorResponse(new TalosError("too_many_requests", v.errorMessage), h);
    case VerificationError.INTERNAL:
      return errorResponse(new TalosError("internal_server_error", v.errorMessage), h);
    default:
      // unknown, malformed, foreign, expired and revoked look alike to the caller
      return unauthenticated("invalid credential");
  }
}

function unauthenticated(message: string): Response {
  return errorResponse(new TalosError("unauthorized", message), { "WWW-Authenticate": "Bearer", "Cache-Control": "no-store" });
}

const RAW_SAFE = /^[\x21-\x24\x26-\x7e]+$/; // visible ASCII without '%'

/**
 * Actor ids and scopes are free text: a value that is not plain visible ASCII (or holds '%', or a
 * ',' inside a scope) is percent-encoded, so `decodeURIComponent(header)` always gives it back.
 */
function headerValue(value: string, isListItem: boolean): string {
  if (RAW_SAFE.test(value) && !(isListItem && value.includes(","))) return value;
  let out = "";
  // UTF-8 bytes (a lone surrogate becomes U+FFFD instead of throwing like encodeURIComponent)
  for (const b of Buffer.from(value, "utf8")) {
    out += UNRESERVED.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

const UNRESERVED = /^[A-Za-z0-9\-_.~]$/;
