import { createClient, seg } from "./client.js";
import { emit, readStdin } from "./output.js";
import type { CommonOptions } from "./parse.js";

export type RevokeOptions = CommonOptions & { reason?: string; description?: string };

/** Which endpoint: the kind-specific one (docs/keys.md#revoke) or the alias that dispatches on the id's shape (docs/keys.md#revoke-alias). */
export type RevokeTarget = "issued" | "imported" | "any";

const PATHS: Record<RevokeTarget, string> = {
  issued: "/v2alpha1/admin/issuedApiKeys",
  imported: "/v2alpha1/admin/importedApiKeys",
  any: "/v2alpha1/admin/apiKeys",
};

/** `talos keys issued|imported revoke <key-id>` and `talos keys revoke <key-id>`: 204, so nothing but a confirmation. */
export async function revokeCommand(target: RevokeTarget, keyId: string, opts: RevokeOptions): Promise<number> {
  const body: Record<string, unknown> = {};
  if (opts.reason !== undefined) body.reason = opts.reason;
  if (opts.description !== undefined) body.description = opts.description;
  await createClient(opts).call(`${PATHS[target]}/${seg(keyId)}:revoke`, { body });
  await emit(opts, {}, { table: () => `revoked ${keyId}`, quiet: () => [] });
  return 0;
}

export type SelfRevokeOptions = CommonOptions & { reason?: string };

/** `talos keys self-revoke <secret>` (docs/keys.md#self-revocation, public surface); `-` reads the secret from stdin. */
export async function selfRevokeCommand(secret: string, opts: SelfRevokeOptions): Promise<number> {
  const credential = secret === "-" ? await readStdin("the secret") : secret;
  const body: Record<string, unknown> = { credential };
  if (opts.reason !== undefined) body.reason = opts.reason;
  const res = await createClient(opts).call<object>("/v2alpha1/apiKeys:selfRevoke", { body });
  await emit(opts, res ?? {}, { table: () => "revoked", quiet: () => [] });
  return 0;
}
