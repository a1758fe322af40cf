import { keyBody } from "./body.js";
import { createClient } from "./client.js";
import { emit, keyTable, readStdin, type ApiKey } from "./output.js";
import { UsageError, type CommonOptions, type KeyFlags } from "./parse.js";

export type ImportOptions = CommonOptions & KeyFlags & { rawKey: string };

/** `talos keys imported import [name]` (docs/keys.md#import). `--raw-key -` reads the key from stdin. */
export async function importCommand(name: string | undefined, opts: ImportOptions): Promise<number> {
  const rawKey = opts.rawKey === "-" ? await readStdin("the raw key") : opts.rawKey;
  if (rawKey === "") throw new UsageError("--raw-key must not be empty");
  const body = { raw_key: rawKey, ...(name !== undefined && { name }), ...keyBody(opts) };
  const key = await createClient(opts).call<ApiKey>("/v2alpha1/admin/importedApiKeys", { body });
  await emit(opts, key, { table: () => keyTable([key]), quiet: () => [key.key_id] });
  return 0;
}
