import { TalosError } from "../errors.js";
import { importedKeyId } from "../keys/imported-key.js";
import type { Repo } from "../store/types.js";
import type { KeyRecord } from "../types.js";
import { createdPayload, recordEvents } from "../events/record.js";
import type { ServiceContext } from "./context.js";
import { newRecord, requestFingerprint } from "./common.js";
import { isTalosFormat, type ImportInput } from "./import-key.js";

/** BatchCreateImportedApiKeysErrorCode numbers (docs/wire.md#enums). */
export const BatchError = { NONE: 0, INVALID_ARGUMENT: 1, ALREADY_EXISTS: 2, FAILED_PRECONDITION: 3, INTERNAL: 4, RESOURCE_EXHAUSTED: 5 } as const;

export type BatchItem = { input: ImportInput } | { invalid: string };

export interface BatchItemResult {
  index: number;
  record: KeyRecord | null;
  errorCode: number;
  errorMessage: string;
}

export interface BatchImportResult {
  results: BatchItemResult[];
  successCount: number;
  failureCount: number;
}

/**
 * docs/keys.md#batch-import. Items are independent; the whole batch costs a handful of statements
 * (request-id lookup, duplicate lookup, quota count, one multi-row insert).
 */
export async function batchImportKeys(ctx: ServiceContext, items: BatchItem[]): Promise<BatchImportResult> {
  if (items.length === 0) throw new TalosError("bad_request", "requests must contain at least one item", { field: "requests" });
  if (items.length > 1000) throw new TalosError("bad_request", "maximum 1000 keys per batch", { field: "requests" });
  const now = ctx.clock();
  const results: BatchItemResult[] = items.map((_, index) => ({ index, record: null, errorCode: BatchError.NONE, errorMessage: "" }));
  const fail = (i: number, code: number, message: string) => Object.assign(results[i]!, { errorCode: code, errorMessage: message, record: null });

  type Pending = { i: number; record: KeyRecord };
  const candidates: Pending[] = [];
  const firstByKeyId = new Map<string, number>();
  const firstByRequestId = new Map<string, Pending>();
  items.forEach((item, i) => {
    if ("invalid" in item) return fail(i, BatchError.INVALID_ARGUMENT, item.invalid);
    const { rawKey, ...fields } = item.input;
    if (isTalosFormat(ctx, rawKey)) return fail(i, BatchError.FAILED_PRECONDITION, "raw_key uses a Talos credential format and cannot be imported");
    const keyId = importedKeyId(ctx.nid, rawKey);
    const fp = fields.requestId ? requestFingerprint(fields, { key_id: keyId }) : null;
    let record: KeyRecord;
    try {
      record = newRecord(ctx, "imported", keyId, fields, now, fp);
    } catch (e) {
      // ttl over max_ttl is a per-item validation failure, not a failure of the whole batch
      if (!(e instanceof TalosError) || e.id !== "bad_request") throw e;
      const field = e.metadata.field ? `requests[${i}].${e.metadata.field}` : `requests[${i}]`;
      return fail(i, BatchError.INVALID_ARGUMENT, `${field}: ${e.message}`);
    }
    candidates.push({ i, record });
  });

  const created: KeyRecord[] = [];
  await ctx.store.transaction(async (repo) => {
    const requestIds = [...new Set(candidates.flatMap((c) => (c.record.requestId ? [c.record.requestId] : [])))];
    const byRequestId = new Map((requestIds.length ? await repo.getKeysByRequestIds(ctx.nid, "imported", requestIds) : []).map((r) => [r.requestId!, r]));
    const existing = new Map((candidates.length ? await repo.getKeys(ctx.nid, candidates.map((c) => c.record.keyId)) : []).map((r) => [r.keyId, r]));
    // a concurrent call with this request_id may have committed between the two lookups above
    for (const r of existing.values()) if (r.kind === "imported" && r.requestId && !byRequestId.has(r.requestId)) byRequestId.set(r.requestId, r);
    const max = ctx.config.quota.api_keys_max;
    let room = max === null ? Infinity : max - (await repo.countLiveKeys(ctx.nid));

    const toInsert: Pending[] = [];
    const inBatchReplays: { i: number; of: Pending }[] = [];
    for (const c of candidates) {
      const rid = c.record.requestId;
      const stored = rid ? byRequestId.get(rid) : undefined;
      const earlier = rid ? firstByRequestId.get(rid) : undefined;
      if (stored || earlier) {
        const original = stored ?? earlier!.record;
        if (original.requestFingerprint !== c.record.requestFingerprint) {
          fail(c.i, BatchError.ALREADY_EXISTS, "request_id was already used with different parameters");
        } else if (stored) results[c.i]!.record = stored; // idempotent replay
        else inBatchReplays.push({ i: c.i, of: earlier! }); // settled once the original is inserted
        continue;
      }
      const dupAt = firstByKeyId.get(c.record.keyId);
      if (dupAt !== undefined) {
        fail(c.i, BatchError.ALREADY_EXISTS, `duplicate detected at index ${dupAt}`);
        continue;
      }
      firstByKeyId.set(c.record.keyId, c.i);
      if (existing.has(c.record.keyId)) {
        fail(c.i, BatchError.ALREADY_EXISTS, "key already imported (duplicate detected)");
        continue;
      }
      if (room <= 0) {
        fail(c.i, BatchError.RESOURCE_EXHAUSTED, "API key quota exceeded");
        continue;
      }
      room--;
      if (rid) firstByRequestId.set(rid, c);
      toInsert.push(c);
    }
    let inserted: Set<string>;
    let insertFailed = false;
    try {
      inserted = toInsert.length ? await repo.insertKeys(toInsert.map((c) => c.record)) : new Set();
    } catch {
      inserted = new Set();
      insertFailed = true;
      for (const c of toInsert) fail(c.i, BatchError.INTERNAL, "An internal server error occurred.");
    }
    if (!insertFailed) await settleLostRaces(ctx, repo, toInsert.filter((c) => !inserted.has(c.record.keyId)), results, fail);
    for (const c of toInsert) {
      if (results[c.i]!.record) continue; // a concurrent replay's winner, settled above
      if (!inserted.has(c.record.keyId)) {
        if (results[c.i]!.errorCode === BatchError.NONE) fail(c.i, BatchError.ALREADY_EXISTS, "key already imported (duplicate detected)");
        continue;
      }
      results[c.i]!.record = c.record;
      created.push(c.record);
    }
    // an in-batch replay shares its original's fate: never a resource that was not stored
    for (const r of inBatchReplays) {
      const original = results[r.of.i]!;
      if (original.record) results[r.i]!.record = original.record;
      else fail(r.i, original.errorCode, original.errorMessage);
    }
    await recordEvents(ctx, repo, created.map((record) => ({ type: "api_key.imported", record, payload: createdPayload(record, "batch_import") })));
  });

  const successCount = results.filter((r) => r.record !== null).length;
  for (const rec of created) {
    ctx.hooks.event({ event: "APIKeyCreated", kind: "imported", keyId: rec.keyId, actorId: rec.actorId, operation: "batch_import" });
  }
  return { results, successCount, failureCount: results.length - successCount };
}

/**
 * Items whose insert hit an existing row: when a concurrent call with the same request_id won the
 * race (its row was not visible to our first lookup), this is a replay and answers as one. The
 * insert waited for that transaction, so this read (a new statement) sees the committed row.
 */
async function settleLostRaces(
  ctx: ServiceContext,
  repo: Repo,
  lost: { i: number; record: KeyRecord }[],
  results: BatchItemResult[],
  fail: (i: number, code: number, message: string) => void,
): Promise<void> {
  const withRid = lost.filter((c) => c.record.requestId);
  if (withRid.length === 0) return;
  const stored = await repo.getKeysByRequestIds(ctx.nid, "imported", withRid.map((c) => c.record.requestId!));
  const byRid = new Map(stored.map((r) => [r.requestId!, r]));
  for (const c of withRid) {
    const winner = byRid.get(c.record.requestId!);
    if (!winner) continue; // lost on key_id to a key without this request_id: a plain duplicate
    if (winner.requestFingerprint !== c.record.requestFingerprint) fail(c.i, BatchError.ALREADY_EXISTS, "request_id was already used with different parameters");
    else results[c.i]!.record = winner;
  }
}
