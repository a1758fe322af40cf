import { BatchError, INTERNAL_MESSAGE, batchImportKeys, deleteImportedKey, getKey, importKey, listKeys, revokeKey, updateKey, TalosError, type BatchItem } from "@talos/core";
import {
  BATCH_CREATE_ERROR,
  BatchCreateImportedApiKeysRequest,
  BatchCreateImportedApiKeysResponse,
  ImportApiKeyRequest,
  ImportedApiKey,
  UpdateApiKeyFields,
  ListImportedApiKeysResponse,
  RevokeApiKeyBody,
  empty,
  encodeKey,
  json,
  readBody,
  tryParse,
  type AppDeps,
  type RouteDef,
} from "@talos/http";
import { PAGE_SIZE_DOC, errors, listInput, updateInput } from "./common.js";

const TAG = ["ImportedApiKeys"];
const location = (keyId: string) => ({ Location: `/v2alpha1/admin/importedApiKeys/${keyId}` });

/** docs/keys.md#batch-import: when every item fails, the most frequent failure picks the envelope. */
const ALL_FAILED: Record<number, (first: string) => TalosError> = {
  [BatchError.INVALID_ARGUMENT]: (first) => new TalosError("bad_request", first),
  [BatchError.ALREADY_EXISTS]: () => new TalosError("conflict", "all keys in batch already exist"),
  [BatchError.FAILED_PRECONDITION]: (first) => new TalosError("failed_precondition", first),
  [BatchError.RESOURCE_EXHAUSTED]: () => new TalosError("api_key_quota_exceeded", "API key quota exceeded"),
  [BatchError.INTERNAL]: () => new TalosError("internal_server_error", INTERNAL_MESSAGE),
};
const TIE_ORDER = [BatchError.INVALID_ARGUMENT, BatchError.ALREADY_EXISTS, BatchError.FAILED_PRECONDITION, BatchError.RESOURCE_EXHAUSTED, BatchError.INTERNAL];

export function importedRoutes(deps: AppDeps): RouteDef[] {
  const ctx = deps.ctx;
  const now = () => ctx.clock();
  return [
    {
      method: "POST",
      path: "/v2alpha1/admin/importedApiKeys",
      operationId: "adminImportApiKey",
      summary: "Import a key created elsewhere; only its hash is stored",
      tags: TAG,
      body: ImportApiKeyRequest,
      responses: {
        201: { description: "Imported", schema: ImportedApiKey, headers: { Location: "URL of the key" } },
        200: { description: "Idempotent replay (request_id)", schema: ImportedApiKey },
        ...errors(400, 409, 429),
      },
      handler: async (c) => {
        const out = await importKey(ctx, await readBody(c, ImportApiKeyRequest));
        const body = encodeKey(out.record, now());
        return out.replay ? json(200, body) : json(201, body, location(out.record.keyId));
      },
    },
    {
      method: "POST",
      path: "/v2alpha1/admin/importedApiKeys:batchCreate",
      operationId: "adminBatchCreateImportedApiKeys",
      summary: "Import up to 1000 keys; items succeed or fail independently",
      tags: TAG,
      body: BatchCreateImportedApiKeysRequest,
      responses: { 200: { description: "Per-item results", schema: BatchCreateImportedApiKeysResponse }, ...errors(400, 409, 429, 500) },
      handler: async (c) => {
        const { requests = [] } = await readBody(c, BatchCreateImportedApiKeysRequest);
        const items: BatchItem[] = requests.map((raw, i) => {
          const r = tryParse(ImportApiKeyRequest, raw, `requests[${i}]`);
          return "ok" in r ? { input: r.ok } : { invalid: r.error };
        });
        const out = await batchImportKeys(ctx, items);
        if (out.successCount === 0) throw allFailed(out.results);
        const t = now();
        return json(200, {
          results: out.results.map((r) => ({
            index: r.index,
            imported_api_key: r.record ? encodeKey(r.record, t) : null,
            error_code: BATCH_CREATE_ERROR[r.errorCode]!,
            error_message: r.errorMessage,
          })),
          success_count: out.successCount,
          failure_count: out.failureCount,
        });
      },
    },
    {
      method: "GET",
      path: "/v2alpha1/admin/importedApiKeys",
      operationId: "adminListImportedApiKeys",
      summary: "List imported keys ordered by key_id",
      tags: TAG,
      query: { page_size: PAGE_SIZE_DOC, page_token: "from next_page_token", filter: 'actor_id="x" AND status=KEY_STATUS_ACTIVE' },
      responses: { 200: { description: "A page", schema: ListImportedApiKeysResponse }, ...errors(400) },
      handler: async (c) => {
        const out = await listKeys(ctx, "imported", listInput(c));
        const t = now();
        return json(200, { imported_api_keys: out.records.map((r) => encodeKey(r, t)), next_page_token: out.nextPageToken });
      },
    },
    {
      method: "GET",
      path: "/v2alpha1/admin/importedApiKeys/{key_id}",
      operationId: "adminGetImportedApiKey",
      summary: "Get an imported key",
      tags: TAG,
      responses: { 200: { description: "The key", schema: ImportedApiKey }, ...errors(404) },
      handler: async (_c, p) => json(200, encodeKey(await getKey(ctx, "imported", p.key_id!), now())),
    },
    {
      method: "PATCH",
      path: "/v2alpha1/admin/importedApiKeys/{key_id}",
      operationId: "adminUpdateImportedApiKey",
      summary: "Update name, scopes, metadata, rate limit policy or IP restriction",
      tags: TAG,
      body: UpdateApiKeyFields,
      query: { update_mask: "comma-separated field paths; repeatable" },
      responses: { 200: { description: "Updated", schema: ImportedApiKey }, ...errors(400, 404, 409) },
      handler: async (c, p) => json(200, encodeKey(await updateKey(ctx, "imported", p.key_id!, await updateInput(c, "imported_api_key")), now())),
    },
    {
      method: "POST",
      path: "/v2alpha1/admin/importedApiKeys/{key_id}:revoke",
      operationId: "adminRevokeImportedApiKey",
      summary: "Revoke an imported key (permanent)",
      tags: TAG,
      body: RevokeApiKeyBody,
      responses: { 204: { description: "Revoked" }, ...errors(400, 404, 409) },
      handler: async (c, p) => {
        await revokeKey(ctx, "imported", p.key_id!, await readBody(c, RevokeApiKeyBody));
        return empty(204);
      },
    },
    {
      method: "DELETE",
      path: "/v2alpha1/admin/importedApiKeys/{key_id}",
      operationId: "adminDeleteImportedApiKey",
      summary: "Delete an imported key in any state; the raw key may be imported again",
      tags: TAG,
      responses: { 204: { description: "Deleted" }, ...errors(404) },
      handler: async (_c, p) => {
        await deleteImportedKey(ctx, p.key_id!);
        return empty(204);
      },
    },
  ];
}

function allFailed(results: { errorCode: number; errorMessage: string }[]): TalosError {
  const counts = new Map<number, number>();
  for (const r of results) counts.set(r.errorCode, (counts.get(r.errorCode) ?? 0) + 1);
  const dominant = TIE_ORDER.reduce<number>((best, code) => ((counts.get(code) ?? 0) > (counts.get(best) ?? 0) ? code : best), BatchError.INVALID_ARGUMENT);
  const first = results.find((r) => r.errorCode === dominant)?.errorMessage ?? "";
  const err = ALL_FAILED[dominant]!(first);
  err.metadata.failure_count = String(results.length);
  return err;
}
