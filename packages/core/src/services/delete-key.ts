import { notFound } from "../errors.js";
import { isImportedKeyId } from "../keys/imported-key.js";
import { recordEvent } from "../events/record.js";
import type { ServiceContext } from "./context.js";
import { loadKey, mutate } from "./common.js";

/** docs/keys.md#delete: hard delete of an imported key in any state. */
export async function deleteImportedKey(ctx: ServiceContext, keyId: string): Promise<void> {
  if (!isImportedKeyId(keyId)) throw notFound();
  const rec = await mutate(ctx, [{ kind: "imported", keyId }], async (repo) => {
    const current = await loadKey(ctx, repo, "imported", keyId, true);
    await repo.deleteKey(ctx.nid, keyId);
    await recordEvent(ctx, repo, { type: "api_key.deleted", record: current, payload: { name: current.name } });
    return current;
  });
  ctx.hooks.event({ event: "ImportedAPIKeyDeleted", kind: "imported", keyId, actorId: rec.actorId });
}
