import type { ServiceContext } from "../services/context.js";
import type { KeyRecord } from "../types.js";
import type { KeyEvent } from "./types.js";

/** A key's rotation neighbours, read from its api_key.rotated events (docs/console.md#lineage). */
export interface KeyLineage {
  /** the key whose rotation created this one, and that event */
  rotatedFrom: { keyId: string; event: KeyEvent } | null;
  /** the key that replaced this one, and that event */
  rotatedTo: { keyId: string; event: KeyEvent } | null;
}

type LineageKey = Pick<KeyRecord, "kind" | "keyId" | "actorId" | "createTime">;

const PAGE = 100;
const MAX_PAGES = 10;
// rotate sets the new key's create_time before its transaction, and records the event inside it
const BEFORE_MS = 1000;
const AFTER_MS = 5 * 60_000;

const newKeyIdOf = (e: KeyEvent): string | null => (typeof e.payload["new_key_id"] === "string" ? e.payload["new_key_id"] : null);

/**
 * Lineage without a column of its own: the rotated event is stored on the old key with
 * `payload.new_key_id`, so "rotated to" is this key's own rotated event, and "rotated from" is the
 * rotated event naming this key, looked for among the actor's rotations around its create time (the
 * new key inherits the actor). Both vanish once `events.retention` prunes the event.
 */
export async function keyLineage(ctx: ServiceContext, rec: LineageKey): Promise<KeyLineage> {
  if (rec.kind !== "issued") return { rotatedFrom: null, rotatedTo: null }; // only issued keys rotate
  const events = ctx.store.repo.events;
  const [own] = await events.list(ctx.nid, { types: ["api_key.rotated"], keyId: rec.keyId, limit: 1 });
  const to = own ? newKeyIdOf(own) : null;

  let from: KeyLineage["rotatedFrom"] = null;
  const created = rec.createTime.getTime();
  let beforeId: string | undefined;
  for (let page = 0; page < MAX_PAGES && !from; page++) {
    const rows = await events.list(ctx.nid, {
      types: ["api_key.rotated"],
      actorId: rec.actorId,
      from: new Date(created - BEFORE_MS),
      to: new Date(created + AFTER_MS),
      beforeId,
      limit: PAGE,
    });
    const hit = rows.find((e) => newKeyIdOf(e) === rec.keyId && e.keyKind === "issued");
    if (hit) from = { keyId: hit.keyId, event: hit };
    if (rows.length < PAGE) break;
    beforeId = rows[rows.length - 1]!.id;
  }
  return { rotatedFrom: from, rotatedTo: own && to ? { keyId: to, event: own } : null };
}

/**
 * The newest `limit` events of a key, newest first: those stored on it, plus the rotation that
 * created it (stored on the old key) when `lineage` found one.
 */
export async function keyEvents(
  ctx: ServiceContext,
  rec: Pick<KeyRecord, "kind" | "keyId">,
  limit: number,
  lineage?: KeyLineage,
): Promise<KeyEvent[]> {
  const own = (await ctx.store.repo.events.list(ctx.nid, { keyId: rec.keyId, limit })).filter((e) => e.keyKind === rec.kind);
  const birth = lineage?.rotatedFrom?.event;
  const all = birth && !own.some((e) => e.id === birth.id) ? [...own, birth] : own;
  return all.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).slice(0, limit);
}
