import { DEFAULT_WINDOW_SECONDS } from "./body.js";
import { createClient, seg } from "./client.js";
import { collection, type Kind } from "./get.js";
import { emit, keyTable, type ApiKey } from "./output.js";
import { UsageError, type CommonOptions } from "./parse.js";

export type UpdateOptions = CommonOptions & {
  name?: string;
  scopes?: string[];
  metadata?: Record<string, unknown> | "";
  allowedCidrs?: string[];
  rateLimitQuota?: number;
  rateLimitWindow?: number;
};

/**
 * `talos keys issued|imported update <key-id>` (docs/keys.md#update). The update mask is exactly the
 * flags given; an empty value (`--scopes ''`, `--allowed-cidrs ''`, `--metadata ''`) or
 * `--rate-limit-quota 0` clears the field. Changing only one of quota and window keeps the other
 * (and the unit) from the key's current policy.
 */
export async function updateCommand(kind: Kind, keyId: string, opts: UpdateOptions): Promise<number> {
  const mask: string[] = [];
  const body: Record<string, unknown> = {};
  if (opts.name !== undefined) {
    mask.push("name");
    body.name = opts.name;
  }
  if (opts.scopes !== undefined) {
    mask.push("scopes");
    body.scopes = opts.scopes;
  }
  if (opts.metadata !== undefined) {
    mask.push("metadata");
    if (opts.metadata !== "") body.metadata = opts.metadata;
  }
  if (opts.allowedCidrs !== undefined) {
    mask.push("ip_restriction");
    if (opts.allowedCidrs.length) body.ip_restriction = { allowed_cidrs: opts.allowedCidrs };
  }
  const { rateLimitQuota: quota, rateLimitWindow: window } = opts;
  const setPolicy = window !== undefined || (quota !== undefined && quota > 0);
  if (quota === 0 && window !== undefined) throw new UsageError("--rate-limit-quota 0 clears the rate limit policy; drop --rate-limit-window");
  if (quota !== undefined || window !== undefined) mask.push("rate_limit_policy");
  if (mask.length === 0) {
    throw new UsageError("nothing to update: pass --name, --scopes, --metadata, --allowed-cidrs, --rate-limit-quota or --rate-limit-window");
  }

  const client = createClient(opts);
  const path = `${collection(kind)}/${seg(keyId)}`;
  if (setPolicy) {
    const current = (await client.call<ApiKey>(path)).rate_limit_policy;
    const q = quota ?? (current ? Number(current.quota) : undefined);
    if (q === undefined) throw new Error("the key has no rate limit policy: pass --rate-limit-quota as well");
    const w = window ?? (current ? Number.parseInt(current.window, 10) : DEFAULT_WINDOW_SECONDS);
    body.rate_limit_policy = { quota: String(q), window: `${w}s`, unit: current?.unit ?? "" };
  }
  const key = await client.call<ApiKey>(path, { method: "PATCH", body, query: { update_mask: mask.join(",") } });
  await emit(opts, key, { table: () => keyTable([key]), quiet: () => [key.key_id] });
  return 0;
}
