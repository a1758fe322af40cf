import { createClient, seg } from "../keys/client.js";
import { emit, renderFields, renderTable } from "../keys/output.js";
import type { CommonOptions } from "../keys/parse.js";

const EVENTS = "/v2alpha1/admin/events";

export type EventListOptions = CommonOptions & {
  type?: string;
  key?: string;
  actor?: string;
  since?: string;
  until?: string;
  filter?: string;
  pageSize?: number;
  pageToken?: string;
  all?: boolean;
};

interface EventJson {
  id: string;
  type: string;
  key_id: string;
  actor_id: string;
  source: string;
  occurred_time: string;
}

const quote = (v: string) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** The filter of docs/events.md#listing from the flags. */
export function eventFilter(o: EventListOptions): string {
  if (o.filter !== undefined) return o.filter;
  const terms: string[] = [];
  if (o.type) terms.push(`type=${quote(o.type)}`);
  if (o.key) terms.push(`key_id=${quote(o.key)}`);
  if (o.actor !== undefined) terms.push(`actor_id=${quote(o.actor)}`);
  if (o.since) terms.push(`occurred_time>=${quote(o.since)}`);
  if (o.until) terms.push(`occurred_time<${quote(o.until)}`);
  return terms.join(" AND ");
}

const table = (events: EventJson[]) =>
  renderTable(
    ["ID", "TYPE", "KEY", "ACTOR", "SOURCE", "OCCURRED"],
    events.map((e) => [e.id, e.type, e.key_id, e.actor_id, e.source, e.occurred_time]),
  );

/** `talos events list`. */
export async function listEventsCommand(opts: EventListOptions): Promise<number> {
  const client = createClient(opts);
  const filter = eventFilter(opts);
  const events: EventJson[] = [];
  let token = opts.pageToken ?? "";
  const seen = new Set<string>();
  for (;;) {
    const page = await client.call<{ events?: EventJson[]; next_page_token?: string }>(EVENTS, { query: { page_size: opts.pageSize, page_token: token, filter } });
    events.push(...(page.events ?? []));
    token = page.next_page_token ?? "";
    if (!opts.all || token === "") break;
    if (seen.has(token)) throw new Error("the server returned the same page token twice");
    seen.add(token);
  }
  await emit(
    opts,
    { events, next_page_token: token },
    { table: () => (token ? `${table(events)}\n\nnext page: --page-token ${token}` : table(events)), quiet: () => events.map((e) => e.id) },
  );
  return 0;
}

/** `talos events get <id>`. */
export async function getEventCommand(id: string, opts: CommonOptions): Promise<number> {
  const out = await createClient(opts).call<{ event: EventJson & { payload: unknown }; deliveries: Record<string, unknown>[] }>(`${EVENTS}/${seg(id)}`);
  await emit(opts, out, {
    table: () =>
      `${renderFields([
        ["id", out.event.id],
        ["type", out.event.type],
        ["key", out.event.key_id],
        ["actor", out.event.actor_id],
        ["source", out.event.source],
        ["occurred", out.event.occurred_time],
        ["payload", JSON.stringify(out.event.payload)],
      ])}\n\n${renderTable(
        ["WEBHOOK", "STATE", "ATTEMPTS", "LAST STATUS", "LAST ERROR"],
        out.deliveries.map((d) => [String(d.webhook_id), String(d.state), String(d.attempts), String(d.last_status ?? ""), String(d.last_error ?? "")]),
      )}`,
    quiet: () => [out.event.id],
  });
  return 0;
}

/** `talos events redeliver <id>`. */
export async function redeliverCommand(id: string, opts: CommonOptions): Promise<number> {
  const out = await createClient(opts).call<{ deliveries: number }>(`${EVENTS}/${seg(id)}:redeliver`, { method: "POST", body: {} });
  await emit(opts, out, { table: () => `queued ${out.deliveries} deliveries of event ${id}`, quiet: () => [String(out.deliveries)] });
  return 0;
}
