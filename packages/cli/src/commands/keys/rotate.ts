import { createClient, seg } from "./client.js";
import { emit, keyTable, renderFields, type ApiKey } from "./output.js";
import type { CommonOptions } from "./parse.js";

export type RotateOptions = CommonOptions & {
  name?: string;
  scopes?: string[];
  metadata?: Record<string, unknown> | "";
  visibility?: string;
};

interface RotateResponse {
  issued_api_key: ApiKey;
  secret: string;
  old_issued_api_key: ApiKey;
}

/** `talos keys issued rotate <key-id>` (docs/keys.md#rotate): flags override, everything else is inherited. */
export async function rotateCommand(keyId: string, opts: RotateOptions): Promise<number> {
  const body: Record<string, unknown> = {};
  if (opts.name !== undefined) body.name = opts.name;
  if (opts.scopes !== undefined) body.scopes = opts.scopes;
  // `--metadata ''` on rotate means "no metadata" ({}), not "inherit"
  if (opts.metadata !== undefined) body.metadata = opts.metadata || {};
  if (opts.visibility !== undefined) body.visibility = opts.visibility;
  const res = await createClient(opts).call<RotateResponse>(`/v2alpha1/admin/issuedApiKeys/${seg(keyId)}:rotate`, { body });
  await emit(opts, res, {
    table: () =>
      `${keyTable([res.issued_api_key])}\n\n${renderFields([
        ["secret", res.secret],
        ["revoked", `${res.old_issued_api_key.key_id} (superseded)`],
      ])}`,
    quiet: () => [res.secret],
  });
  return 0;
}
