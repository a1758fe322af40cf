import { batchRevokeKeys } from "@talos/core";
import { BatchRevokeApiKeysRequest, BatchRevokeApiKeysResponse, json, readBody, type AppDeps, type RouteDef } from "@talos/http";
import { errors } from "./common.js";

/** POST /v2alpha1/admin/apiKeys:batchRevoke (docs/leaked-keys.md#bulk-revoke-by-owner). */
export function batchRevokeRoutes(deps: AppDeps): RouteDef[] {
  const ctx = deps.ctx;
  return [
    {
      method: "POST",
      path: "/v2alpha1/admin/apiKeys:batchRevoke",
      operationId: "adminBatchRevokeApiKeys",
      summary: "Revoke every active issued and imported key of one actor, up to 1000 per call (then continue with next_page_token)",
      tags: ["ApiKeys"],
      body: BatchRevokeApiKeysRequest,
      responses: { 200: { description: "Revoked", schema: BatchRevokeApiKeysResponse }, ...errors(400) },
      handler: async (c) => {
        const out = await batchRevokeKeys(ctx, await readBody(c, BatchRevokeApiKeysRequest));
        return json(200, { revoked_count: out.revokedCount, next_page_token: out.nextPageToken });
      },
    },
  ];
}
