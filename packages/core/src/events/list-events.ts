import { TalosError } from "../errors.js";
import { isUuid } from "../keys/ids.js";
import { decodePageToken, encodePageToken } from "../list/page-token.js";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type ListInput } from "../services/list-keys.js";
import type { ServiceContext } from "../services/context.js";
import { normaliseEventFilter, parseEventFilter } from "./filter.js";
import type { Delivery, KeyEvent } from "./types.js";

export interface ListEventsResult {
  events: KeyEvent[];
  nextPageToken: string;
}

// Page tokens reuse the keys' sealed cursor; the "events;" filter namespace keeps the two apart.
const TOKEN_KIND = "issued" as const;

/** docs/events.md#listing: newest first, paged like the key lists. */
export async function listEvents(ctx: ServiceContext, input: ListInput): Promise<ListEventsResult> {
  const size = input.pageSize === undefined || input.pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(input.pageSize, MAX_PAGE_SIZE);
  const filter = parseEventFilter(input.filter);
  const norm = normaliseEventFilter(filter);
  const before = input.pageToken
    ? decodePageToken(input.pageToken, { nid: ctx.nid, kind: TOKEN_KIND, filterNormalised: norm, secrets: ctx.crypto.hmacSecrets() }).after
    : undefined;
  const rows = await ctx.store.repo.events.list(ctx.nid, {
    types: filter.types,
    keyId: filter.keyId,
    actorId: filter.actorId,
    from: filter.from === undefined ? undefined : new Date(filter.from),
    to: filter.to === undefined ? undefined : new Date(filter.to),
    beforeId: before,
    limit: size + 1,
  });
  const page = rows.slice(0, size);
  const last = page[page.length - 1];
  const nextPageToken =
    rows.length > size && last ? encodePageToken({ nid: ctx.nid, kind: TOKEN_KIND, after: last.id, filter: norm }, ctx.config.secrets.hmac.current) : "";
  return { events: page, nextPageToken };
}

const eventNotFound = () => new TalosError("not_found", "event not found");

/** docs/events.md#listing: one event with its delivery records. */
export async function getEvent(ctx: ServiceContext, id: string): Promise<{ event: KeyEvent; deliveries: Delivery[] }> {
  if (!isUuid(id)) throw eventNotFound();
  const found = await ctx.store.repo.events.get(ctx.nid, id.toLowerCase());
  if (!found) throw eventNotFound();
  return found;
}

/** docs/events.md#redelivery: every delivery of the event is due again, attempts reset; webhooks added since get one too. */
export async function redeliverEvent(ctx: ServiceContext, id: string): Promise<{ deliveries: number }> {
  if (!isUuid(id)) throw eventNotFound();
  const eventId = id.toLowerCase();
  const n = await ctx.store.transaction(async (repo) => {
    const found = await repo.events.get(ctx.nid, eventId);
    if (!found) throw eventNotFound();
    const e = found.event;
    const matching = ctx.config.events.webhooks
      .filter((w) => (w.types.length === 0 || w.types.includes(e.type)) && (w.networks.length === 0 || w.networks.includes(e.nid)))
      .map((w) => w.id);
    const touched = await repo.events.redeliver(ctx.nid, eventId, matching, new Date(ctx.clock()));
    if (touched > 0) await repo.notify("talos_events", "");
    return touched;
  });
  return { deliveries: n };
}
