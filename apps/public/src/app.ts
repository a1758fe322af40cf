import { RevocationReason, selfRevoke } from "@talos/core";
import {
  ErrorEnvelope,
  SelfRevokeApiKeyRequest,
  SelfRevokeApiKeyResponse,
  createApp,
  healthRoutes,
  json,
  jwksRoute,
  readBody,
  versionRoute,
  type AppDeps,
  type RouteDef,
} from "@talos/http";
import { githubScanningRoutes } from "./secret-scanning/github-route.js";

/** POST /v2alpha1/apiKeys:selfRevoke (docs/keys.md#self-revocation): a key holder revokes their own key. */
export function publicRoutes(deps: AppDeps): RouteDef[] {
  const ctx = deps.ctx;
  return [
    {
      method: "POST",
      path: "/v2alpha1/apiKeys:selfRevoke",
      operationId: "revokeApiKey",
      summary: "Revoke the key you hold (proof of possession); idempotent",
      tags: ["ApiKeys"],
      body: SelfRevokeApiKeyRequest,
      responses: {
        200: { description: "Revoked (or already revoked)", schema: SelfRevokeApiKeyResponse },
        400: { description: "Invalid request", schema: ErrorEnvelope },
        404: { description: "Key not found", schema: ErrorEnvelope },
      },
      handler: async (c) => {
        const b = await readBody(c, SelfRevokeApiKeyRequest);
        await selfRevoke(ctx, b.credential ?? "", b.reason ?? RevocationReason.UNSPECIFIED);
        return json(200, {});
      },
    },
    ...githubScanningRoutes(deps),
  ];
}

/** The internet-facing surface: self-revocation, JWKS, health, version. Nothing under /v2alpha1/admin/. */
export function createPublicApp(deps: AppDeps) {
  return createApp(deps, [...publicRoutes(deps), jwksRoute(deps), ...healthRoutes(deps), versionRoute(deps)]);
}
