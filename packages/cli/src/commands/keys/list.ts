import { createClient } from "./client.js";
import { collection, type Kind } from "./get.js";
import { emit, keyTable, type ApiKey } from "./output.js";
import type { CommonOptions } from "./parse.js";

export type ListOptions = CommonOptions & { actor?: string; status?: string; pageSize?: number; pageToken?: string; all?: boolean };

/** The AIP-160 filter of docs/keys.md#filters from `--actor` and `--status`. */
export function buildFilter(actor: string | undefined, status: string | undefined): string {
  const terms: string[] = [];
  if (actor !== undefined) terms.push(`actor_id="${actor.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  if (status !== undefined) terms.push(`status=${status}`);
  return terms.join(" AND ");
}

/** `talos keys issued|imported list` (docs/keys.md#list); `--all` follows `next_page_token` to the end. */
export async function listCommand(kind: Kind, opts: ListOptions): Promise<number> {
  const client = createClient(opts);
  const field = kind === "issued" ? "issued_api_keys" : "imported_api_keys";
  const filter = buildFilter(opts.actor, opts.status);
  const keys: ApiKey[] = [];
  let token = opts.pageToken ?? "";
  const seen = new Set<string>();
  for (;;) {
    const page = await client.call<Record<string, unknown>>(collection(kind), {
      query: { page_size: opts.pageSize, page_token: token, filter },
    });
    keys.push(...((page[field] as ApiKey[] | undefined) ?? []));
    token = typeof page.next_page_token === "string" ? page.next_page_token : "";
    if (!opts.all || token === "") break;
    if (seen.has(token)) throw new Error("the server returned the same page token twice");
    seen.add(token);
  }
  const res = { [field]: keys, next_page_token: token };
  await emit(opts, res, {
    table: () => (token ? `${keyTable(keys)}\n\nnext page: --page-token ${token}` : keyTable(keys)),
    quiet: () => keys.map((k) => k.key_id),
  });
  return 0;
}
