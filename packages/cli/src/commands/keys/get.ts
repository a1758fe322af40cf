import { createClient, seg } from "./client.js";
import { emit, keyTable, type ApiKey } from "./output.js";
import type { CommonOptions } from "./parse.js";

export type Kind = "issued" | "imported";
export const collection = (kind: Kind) => (kind === "issued" ? "/v2alpha1/admin/issuedApiKeys" : "/v2alpha1/admin/importedApiKeys");

/** `talos keys issued|imported get <key-id>` (docs/keys.md#get). */
export async function getCommand(kind: Kind, keyId: string, opts: CommonOptions): Promise<number> {
  const key = await createClient(opts).call<ApiKey>(`${collection(kind)}/${seg(keyId)}`);
  await emit(opts, key, { table: () => keyTable([key]), quiet: () => [key.key_id] });
  return 0;
}
