import { createClient, type Client } from "./client.js";
import { emit } from "./output.js";
import type { CommonOptions } from "./parse.js";

export type RevokeActorOptions = CommonOptions & { actor: string; kind?: "issued" | "imported"; reason?: string; description?: string };

interface BatchRevokeAnswer {
  revoked_count: number;
  next_page_token: string;
}

const quote = (s: string) => `"${s.replace(/[\\"]/g, "\\$&")}"`;

/** Active keys of the actor, counted through the list endpoints (1000 a page): the bar's total. */
async function countActive(client: Client, actor: string, kinds: ("issued" | "imported")[]): Promise<number> {
  let n = 0;
  for (const kind of kinds) {
    let token = "";
    do {
      const page = await client.call<Record<string, unknown>>(`/v2alpha1/admin/${kind}ApiKeys`, {
        query: { page_size: 1000, page_token: token, filter: `actor_id=${quote(actor)} AND status=KEY_STATUS_ACTIVE` },
      });
      n += ((page[`${kind}_api_keys`] as unknown[] | undefined) ?? []).length;
      token = (page.next_page_token as string | undefined) ?? "";
    } while (token !== "");
  }
  return n;
}

/** A cli-progress bar on a terminal's stderr (not with -q): revoked so far against the active keys counted first. */
async function progressBar(total: number) {
  const { SingleBar } = await import("cli-progress");
  const bar = new SingleBar({ format: "{bar} {value}/{total} keys revoked", stream: process.stderr, hideCursor: true, barsize: 30 });
  bar.start(total, 0);
  return { update: (done: number) => bar.update(done), stop: () => bar.stop() };
}

/**
 * `talos keys revoke --actor <id>` (docs/leaked-keys.md#bulk-revoke-by-owner): calls :batchRevoke
 * until the server says every active key of the actor is revoked.
 */
export async function revokeActorCommand(opts: RevokeActorOptions): Promise<number> {
  const client = createClient(opts);
  const kinds: ("issued" | "imported")[] = opts.kind ? [opts.kind] : ["issued", "imported"];
  const bar = process.stderr.isTTY && !opts.quiet ? await progressBar(await countActive(client, opts.actor, kinds)) : null;
  const filter = `actor_id=${quote(opts.actor)}${opts.kind ? ` AND kind=${opts.kind}` : ""}`;
  let revoked = 0;
  let token = "";
  try {
    do {
      const body: Record<string, unknown> = { filter };
      if (opts.reason !== undefined) body.reason = opts.reason;
      if (opts.description !== undefined) body.description = opts.description;
      if (token) body.page_token = token;
      const res = await client.call<BatchRevokeAnswer>("/v2alpha1/admin/apiKeys:batchRevoke", { body });
      revoked += res.revoked_count;
      token = res.next_page_token;
      bar?.update(revoked);
    } while (token !== "");
  } finally {
    bar?.stop();
  }
  await emit(opts, { revoked_count: revoked }, { table: () => `revoked ${revoked} keys of ${opts.actor}`, quiet: () => [String(revoked)] });
  return 0;
}
