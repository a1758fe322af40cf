import { TalosError, notFound } from "../errors.js";
import { importedKeyId } from "../keys/imported-key.js";
import { RevocationReason, type KeyKind, type KeyRecord } from "../types.js";
import { REVOCATION_REASON_NAMES, outboxWrite } from "../events/record.js";
import type { ServiceContext } from "./context.js";
import { mutate, revokeAsRead } from "./common.js";

/** docs/keys.md#self-revocation: proof of possession; idempotent; nothing distinguishes "malformed" from "unknown". */
export async function selfRevoke(ctx: ServiceContext, credential: string, reason: number): Promise<void> {
  if (credential === "") throw new TalosError("credential_required", "credential is required", { field: "credential" });
  if (reason === RevocationReason.PRIVILEGE_WITHDRAWN) {
    throw new TalosError("bad_request", "PRIVILEGE_WITHDRAWN is not allowed for self-revocation", { field: "reason" });
  }
  const route = ctx.crypto.route(credential);
  if (route.type === "jwt" || route.type === "macaroon") {
    throw new TalosError("derived_token_not_revocable", "derived tokens cannot be revoked");
  }
  let kind: KeyKind;
  let keyId: string;
  if (route.type === "issued") {
    if (!ctx.crypto.checkIssued(route.parsed)) throw notFound();
    kind = "issued";
    keyId = route.parsed.keyId;
  } else {
    kind = "imported";
    keyId = importedKeyId(ctx.nid, credential);
  }
  const revocation = (current: KeyRecord) => {
    const payload = { reason: REVOCATION_REASON_NAMES[reason] ?? REVOCATION_REASON_NAMES[0]!, description: "" };
    return outboxWrite(ctx, [{ type: "api_key.revoked", record: current, payload, source: "self_revoke" }]);
  };
  const audit = (actorId: string) => ctx.hooks.event({ event: "APIKeyRevoked", kind, keyId, actorId, reason, self: true });

  const read = await ctx.store.repo.getKey(ctx.nid, keyId);
  if (!read || read.kind !== kind) throw notFound();
  if (read.revoked) return;
  if (await revokeAsRead(ctx, read, reason as RevocationReason, "", revocation(read))) return audit(read.actorId);
  // changed since the read: decide under the row lock
  let revokedNow = false;
  const rec = await mutate(
    ctx,
    () => (revokedNow ? [{ kind, keyId }] : []),
    async (repo) => {
      const current = await repo.getKeyForUpdate(ctx.nid, keyId);
      if (!current || current.kind !== kind) throw notFound();
      if (current.revoked) return current;
      revokedNow = true;
      return repo.revokeKey(ctx.nid, keyId, reason as RevocationReason, "", new Date(ctx.clock()), revocation(current));
    },
  );
  if (revokedNow) audit(rec?.actorId ?? "");
}
