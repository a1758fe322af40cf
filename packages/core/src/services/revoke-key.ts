import { TalosError, badRequest, notFound } from "../errors.js";
import { isImportedKeyId, isUuid } from "../keys/ids.js";
import { RevocationReason, type KeyKind, type KeyRecord } from "../types.js";
import { REVOCATION_REASON_NAMES, outboxWrite } from "../events/record.js";
import type { ServiceContext } from "./context.js";
import { loadKey, mutate, revokeAsRead } from "./common.js";

/** Longest revocation description (docs/keys.md#revoke). */
export const REVOCATION_DESCRIPTION_MAX_CHARS = 1024;

export interface RevokeInput {
  reason: number;
  description: string;
  /** set when a leak report (secret scanning) caused the revocation: recorded with the change */
  leak?: { url?: string; source?: string };
}

/** docs/keys.md#revoke. `kind` null is the unified alias (docs/keys.md#revoke-alias): dispatch on the shape of the id. */
export async function revokeKey(ctx: ServiceContext, kind: KeyKind | null, keyIdRaw: string, input: RevokeInput): Promise<void> {
  const resolved = kind ?? (isUuid(keyIdRaw) ? "issued" : isImportedKeyId(keyIdRaw) ? "imported" : null);
  if (!resolved) throw notFound();
  if (input.description !== "" && input.reason !== RevocationReason.PRIVILEGE_WITHDRAWN) {
    throw badRequest("description", "is only allowed with REVOCATION_REASON_PRIVILEGE_WITHDRAWN");
  }
  const keyId = resolved === "issued" ? keyIdRaw.toLowerCase() : keyIdRaw;
  const reason = input.reason as RevocationReason;
  const alreadyRevoked = () => new TalosError("conflict", "key is already revoked");
  const reasonName = REVOCATION_REASON_NAMES[input.reason] ?? REVOCATION_REASON_NAMES[0]!;
  // a leak report's revocation is one api_key.leaked event (it is also the revocation); it goes in the UPDATE statement
  const outbox = (current: KeyRecord) =>
    outboxWrite(ctx, [
      input.leak
        ? {
            type: "api_key.leaked",
            record: current,
            payload: { reason: reasonName, url: input.leak.url ?? "", source: input.leak.source ?? "" },
            source: ctx.principal?.source ?? "secret_scanning",
          }
        : { type: "api_key.revoked", record: current, payload: { reason: reasonName, description: input.description } },
    ]);

  const audit = (actorId: string) => ctx.hooks.event({ event: "APIKeyRevoked", kind: resolved, keyId, actorId, reason: input.reason, self: false });

  const read = await loadKey(ctx, ctx.store.repo, resolved, keyId);
  if (read.revoked) throw alreadyRevoked();
  if (await revokeAsRead(ctx, read, reason, input.description, outbox(read))) return audit(read.actorId);
  // changed since the read (revoked, deleted or replaced by another request): decide under the row lock
  const rec = await mutate(ctx, [{ kind: resolved, keyId }], async (repo) => {
    const current = await loadKey(ctx, repo, resolved, keyId, true);
    if (current.revoked) throw alreadyRevoked();
    return repo.revokeKey(ctx.nid, keyId, reason, input.description, new Date(ctx.clock()), outbox(current));
  });
  audit(rec?.actorId ?? "");
}
