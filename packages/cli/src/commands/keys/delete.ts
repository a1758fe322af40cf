import { createClient, seg } from "./client.js";
import { emit } from "./output.js";
import type { CommonOptions } from "./parse.js";

/** `talos keys imported delete <key-id>` (docs/keys.md#delete): hard delete, 204. */
export async function deleteCommand(keyId: string, opts: CommonOptions): Promise<number> {
  await createClient(opts).call(`/v2alpha1/admin/importedApiKeys/${seg(keyId)}`, { method: "DELETE" });
  await emit(opts, {}, { table: () => `deleted ${keyId}`, quiet: () => [] });
  return 0;
}
