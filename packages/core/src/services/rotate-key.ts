import { randomUUID } from "node:crypto";
import { TalosError } from "../errors.js";
import { keyStatus, KeyStatus, RevocationReason, type KeyRecord, type RateLimitPolicy } from "../types.js";
import { createdPayload, recordEvent } from "../events/record.js";
import type { ServiceContext } from "./context.js";
import { checkVisibility, loadKey, mutate, storedVisibility } from "./common.js";

/** Present fields override, absent ones inherit (docs/keys.md#rotate). */
export interface RotateInput {
  name?: string;
  scopes?: string[];
  metadata?: Record<string, unknown>;
  rateLimitPolicy?: RateLimitPolicy;
  allowedCidrs?: string[] | null;
  visibility?: number;
}

export interface RotateResult {
  record: KeyRecord;
  secret: string;
  old: KeyRecord;
}

export async function rotateKey(ctx: ServiceContext, keyIdRaw: string, input: RotateInput): Promise<RotateResult> {
  checkVisibility(ctx, input.visibility);
  const keyId = keyIdRaw.toLowerCase();
  const now = ctx.clock();
  const result = await mutate(ctx, [{ kind: "issued", keyId }], async (repo): Promise<RotateResult> => {
    const old = await loadKey(ctx, repo, "issued", keyId, true);
    if (keyStatus(old, now) !== KeyStatus.ACTIVE) throw new TalosError("failed_precondition", "cannot rotate a non-active key");
    const t = new Date(now);
    const record: KeyRecord = {
      ...old,
      keyId: randomUUID(),
      name: input.name ?? old.name,
      scopes: input.scopes ?? old.scopes,
      metadata: input.metadata ?? old.metadata,
      rateLimitPolicy: input.rateLimitPolicy ?? old.rateLimitPolicy,
      allowedCidrs: input.allowedCidrs !== undefined ? input.allowedCidrs : old.allowedCidrs,
      visibility: input.visibility ? storedVisibility(input.visibility) : old.visibility,
      createTime: t,
      updateTime: t,
      lastUsedTime: null,
      revoked: false,
      revocationReason: RevocationReason.UNSPECIFIED,
      revocationDescription: "",
      requestId: null,
      requestFingerprint: null,
    };
    if (!(await repo.insertKey(record))) throw new TalosError("internal_server_error", "key id collision");
    const revoked = await repo.revokeKey(ctx.nid, keyId, RevocationReason.SUPERSEDED, "", t);
    // one event for the whole rotation: the old key, and the new key's id and fields
    await recordEvent(ctx, repo, { type: "api_key.rotated", record: old, payload: { new_key_id: record.keyId, ...createdPayload(record, "rotation") } });
    return { record, secret: ctx.crypto.mint(record.keyId, record.visibility, now), old: revoked ?? old };
  });
  ctx.hooks.event({ event: "APIKeyCreated", kind: "issued", keyId: result.record.keyId, actorId: result.record.actorId, operation: "rotation" });
  ctx.hooks.event({ event: "APIKeyRotated", kind: "issued", keyId, actorId: result.old.actorId, newKeyId: result.record.keyId });
  return result;
}
