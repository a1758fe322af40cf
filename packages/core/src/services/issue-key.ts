import { randomUUID } from "node:crypto";
import { TalosError } from "../errors.js";
import type { KeyRecord } from "../types.js";
import { createdPayload, outboxWrite } from "../events/record.js";
import type { ServiceContext } from "./context.js";
import { checkQuota, createNeedsReads, checkVisibility, idempotencyConflict, newRecord, requestFingerprint, type CreateFields } from "./common.js";

export interface IssueResult {
  record: KeyRecord;
  /** "" on an idempotent replay: a secret is never shown twice */
  secret: string;
  replay: boolean;
}

/** docs/keys.md#issue. */
export async function issueKey(ctx: ServiceContext, input: CreateFields): Promise<IssueResult> {
  checkVisibility(ctx, input.visibility);
  const now = ctx.clock();
  const fingerprint = input.requestId ? requestFingerprint(input) : null;
  const record = newRecord(ctx, "issued", randomUUID(), input, now, fingerprint);

  const replayOf = (existing: KeyRecord): IssueResult => {
    if (existing.requestFingerprint !== fingerprint) throw idempotencyConflict();
    return { record: existing, secret: "", replay: true };
  };

  const outbox = () => outboxWrite(ctx, [{ type: "api_key.issued", record, payload: createdPayload(record, "issue") }]);
  const issued = (): IssueResult => ({ record, secret: ctx.crypto.mint(record.keyId, record.visibility, now), replay: false });

  // Nothing to read first: the key and its event are one statement, committed on its own.
  const alone = async (): Promise<IssueResult> => {
    if (await ctx.store.repo.insertKey(record, outbox())) return issued();
    throw new TalosError("internal_server_error", "key id collision");
  };
  const inTransaction = () =>
    ctx.store.transaction(async (repo): Promise<IssueResult> => {
      if (input.requestId) {
        const [existing] = await repo.getKeysByRequestIds(ctx.nid, "issued", [input.requestId]);
        if (existing) return replayOf(existing);
      }
      await checkQuota(ctx, repo);
      // the event goes in the key's own INSERT statement, and only if the key does
      if (await repo.insertKey(record, outbox())) return issued();
      // Lost a race on the same request_id: the winner's row is committed and visible now.
      const [winner] = input.requestId ? await repo.getKeysByRequestIds(ctx.nid, "issued", [input.requestId]) : [];
      if (winner) return replayOf(winner);
      throw new TalosError("internal_server_error", "key id collision");
    });
  const result = await (createNeedsReads(ctx, input) ? inTransaction() : alone());
  if (!result.replay) ctx.hooks.event({ event: "APIKeyCreated", kind: "issued", keyId: record.keyId, actorId: record.actorId, operation: "issue" });
  return result;
}
