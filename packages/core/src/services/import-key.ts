import { TalosError } from "../errors.js";
import { importedKeyId } from "../keys/imported-key.js";
import type { KeyRecord } from "../types.js";
import { createdPayload, outboxWrite } from "../events/record.js";
import type { ServiceContext } from "./context.js";
import { checkQuota, createNeedsReads, idempotencyConflict, newRecord, requestFingerprint, type CreateFields } from "./common.js";

/** Longest raw key an import accepts (docs/keys.md#import). */
export const RAW_KEY_MAX_CHARS = 4096;

export interface ImportInput extends CreateFields {
  rawKey: string;
}

export interface ImportResult {
  record: KeyRecord;
  replay: boolean;
}

const talosFormatError = (): TalosError =>
  new TalosError("failed_precondition", "raw_key uses a Talos credential format and cannot be imported", { field: "raw_key" });
const duplicateImportError = (): TalosError => new TalosError("api_key_exists", "key already imported (duplicate detected)");

/** True when the raw key would route as a JWT, macaroon or issued key (docs/verification.md#credential-routing rules 1-3). */
export function isTalosFormat(ctx: ServiceContext, rawKey: string): boolean {
  return ctx.crypto.route(rawKey).type !== "imported";
}

/** docs/keys.md#import. The raw key is hashed here and goes no further. */
export async function importKey(ctx: ServiceContext, input: ImportInput): Promise<ImportResult> {
  if (isTalosFormat(ctx, input.rawKey)) throw talosFormatError();
  const keyId = importedKeyId(ctx.nid, input.rawKey);
  const now = ctx.clock();
  const fingerprint = input.requestId ? requestFingerprint(input, { key_id: keyId }) : null;
  const { rawKey: _discarded, ...fields } = input;
  const record = newRecord(ctx, "imported", keyId, fields, now, fingerprint);

  const replayOf = (existing: KeyRecord): ImportResult => {
    if (existing.requestFingerprint !== fingerprint) throw idempotencyConflict();
    return { record: existing, replay: true };
  };

  const outbox = () => outboxWrite(ctx, [{ type: "api_key.imported", record, payload: createdPayload(record, "import") }]);

  // Nothing to read first: the key and its event are one statement, committed on its own; a key
  // already there (its id is the raw key's hash) makes the statement insert nothing.
  const alone = async (): Promise<ImportResult> => {
    if (await ctx.store.repo.insertKey(record, outbox())) return { record, replay: false };
    throw duplicateImportError();
  };
  const inTransaction = () =>
    ctx.store.transaction(async (repo): Promise<ImportResult> => {
      if (input.requestId) {
        const [existing] = await repo.getKeysByRequestIds(ctx.nid, "imported", [input.requestId]);
        if (existing) return replayOf(existing);
      }
      const stored = await repo.getKey(ctx.nid, keyId);
      if (stored) {
        // a concurrent request with this request_id committed after our lookup above: that is a replay
        if (input.requestId && stored.kind === "imported" && stored.requestId === input.requestId) return replayOf(stored);
        throw duplicateImportError();
      }
      await checkQuota(ctx, repo);
      // the event goes in the key's own INSERT statement, and only if the key does
      if (await repo.insertKey(record, outbox())) {
        return { record, replay: false };
      }
      const [winner] = input.requestId ? await repo.getKeysByRequestIds(ctx.nid, "imported", [input.requestId]) : [];
      if (winner) return replayOf(winner);
      throw duplicateImportError();
    });
  const result = await (createNeedsReads(ctx, input) ? inTransaction() : alone());
  if (!result.replay) ctx.hooks.event({ event: "APIKeyCreated", kind: "imported", keyId, actorId: record.actorId, operation: "import" });
  return result;
}
