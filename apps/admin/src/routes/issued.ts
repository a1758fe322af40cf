import { getKey, issueKey, listKeys, revokeKey, rotateKey, updateKey } from "@talos/core";
import {

  IssueApiKeyRequest,
  IssueApiKeyResponse,
  IssuedApiKey,
  UpdateApiKeyFields,
  ListIssuedApiKeysResponse,
  RevokeApiKeyBody,
  RotateIssuedApiKeyBody,
  RotateIssuedApiKeyResponse,
  empty,
  encodeKey,
  json,
  readBody,
  type AppDeps,
  type RouteDef,
} from "@talos/http";
import { PAGE_SIZE_DOC, errors, listInput, updateInput } from "./common.js";

const TAG = ["IssuedApiKeys"];
const location = (keyId: string) => ({ Location: `/v2alpha1/admin/issuedApiKeys/${keyId}` });

export function issuedRoutes(deps: AppDeps): RouteDef[] {
  const ctx = deps.ctx;
  const now = () => ctx.clock();
  return [
    {
      method: "POST",
      path: "/v2alpha1/admin/issuedApiKeys",
      operationId: "adminIssueApiKey",
      summary: "Issue an API key; the secret is returned only here",
      tags: TAG,
      body: IssueApiKeyRequest,
      responses: {
        201: { description: "Issued", schema: IssueApiKeyResponse, headers: { Location: "URL of the new key" } },
        200: { description: "Idempotent replay (request_id); secret is empty", schema: IssueApiKeyResponse },
        ...errors(400, 409, 429),
      },
      handler: async (c) => {
        const out = await issueKey(ctx, await readBody(c, IssueApiKeyRequest));
        const body = { issued_api_key: encodeKey(out.record, now()), secret: out.secret };
        return out.replay ? json(200, body) : json(201, body, location(out.record.keyId));
      },
    },
    {
      method: "GET",
      path: "/v2alpha1/admin/issuedApiKeys",
      operationId: "adminListIssuedApiKeys",
      summary: "List issued keys ordered by key_id",
      tags: TAG,
      query: { page_size: PAGE_SIZE_DOC, page_token: "from next_page_token", filter: 'actor_id="x" AND status=KEY_STATUS_ACTIVE' },
      responses: { 200: { description: "A page", schema: ListIssuedApiKeysResponse }, ...errors(400) },
      handler: async (c) => {
        const out = await listKeys(ctx, "issued", listInput(c));
        const t = now();
        return json(200, { issued_api_keys: out.records.map((r) => encodeKey(r, t)), next_page_token: out.nextPageToken });
      },
    },
    {
      method: "GET",
      path: "/v2alpha1/admin/issuedApiKeys/{key_id}",
      operationId: "adminGetIssuedApiKey",
      summary: "Get an issued key",
      tags: TAG,
      responses: { 200: { description: "The key", schema: IssuedApiKey }, ...errors(404) },
      handler: async (_c, p) => json(200, encodeKey(await getKey(ctx, "issued", p.key_id!.toLowerCase()), now())),
    },
    {
      method: "PATCH",
      path: "/v2alpha1/admin/issuedApiKeys/{key_id}",
      operationId: "adminUpdateIssuedApiKey",
      summary: "Update name, scopes, metadata, rate limit policy or IP restriction",
      tags: TAG,
      body: UpdateApiKeyFields,
      query: { update_mask: "comma-separated field paths; repeatable" },
      responses: { 200: { description: "Updated", schema: IssuedApiKey }, ...errors(400, 404, 409) },
      handler: async (c, p) => {
        const rec = await updateKey(ctx, "issued", p.key_id!.toLowerCase(), await updateInput(c, "issued_api_key"));
        return json(200, encodeKey(rec, now()));
      },
    },
    {
      method: "POST",
      path: "/v2alpha1/admin/issuedApiKeys/{key_id}:rotate",
      operationId: "adminRotateIssuedApiKey",
      summary: "Replace a key with a new one; the old key is revoked as SUPERSEDED",
      tags: TAG,
      body: RotateIssuedApiKeyBody,
      responses: {
        201: { description: "Rotated", schema: RotateIssuedApiKeyResponse, headers: { Location: "URL of the new key" } },
        ...errors(400, 404, 409),
      },
      handler: async (c, p) => {
        const out = await rotateKey(ctx, p.key_id!, await readBody(c, RotateIssuedApiKeyBody));
        const t = now();
        return json(
          201,
          { issued_api_key: encodeKey(out.record, t), secret: out.secret, old_issued_api_key: encodeKey(out.old, t) },
          location(out.record.keyId),
        );
      },
    },
    {
      method: "POST",
      path: "/v2alpha1/admin/issuedApiKeys/{key_id}:revoke",
      operationId: "adminRevokeIssuedApiKey",
      summary: "Revoke an issued key (permanent)",
      tags: TAG,
      body: RevokeApiKeyBody,
      responses: { 204: { description: "Revoked" }, ...errors(400, 404, 409) },
      handler: async (c, p) => {
        await revokeKey(ctx, "issued", p.key_id!, await readBody(c, RevokeApiKeyBody));
        return empty(204);
      },
    },
  ];
}

