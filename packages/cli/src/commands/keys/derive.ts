import { createClient } from "./client.js";
import { emit, readStdin, renderFields } from "./output.js";
import type { CommonOptions } from "./parse.js";

export type DeriveOptions = CommonOptions & {
  algorithm?: string;
  ttl?: string;
  scopes?: string[];
  claims?: Record<string, unknown> | "";
};

interface DeriveResponse {
  token: { token: string; expire_time: string | null; scopes: string[]; claims: Record<string, unknown> | null };
}

/** `talos keys derive-token <secret>` (docs/derived-tokens.md#derive): a JWT (default) or macaroon; `-` reads the secret from stdin. */
export async function deriveCommand(secret: string, opts: DeriveOptions): Promise<number> {
  const credential = secret === "-" ? await readStdin("the secret") : secret;
  const body: Record<string, unknown> = { credential };
  if (opts.algorithm !== undefined) body.algorithm = opts.algorithm;
  if (opts.ttl !== undefined) body.ttl = opts.ttl;
  if (opts.scopes !== undefined) body.scopes = opts.scopes;
  if (opts.claims) body.custom_claims = opts.claims;
  const res = await createClient(opts).call<DeriveResponse>("/v2alpha1/admin/apiKeys:derive", { body });
  const t = res.token;
  await emit(opts, res, {
    table: () =>
      renderFields([
        ["token", t.token],
        ["expire_time", t.expire_time ?? "-"],
        ["scopes", t.scopes.join(",") || "-"],
      ]),
    quiet: () => [t.token],
  });
  return 0;
}
