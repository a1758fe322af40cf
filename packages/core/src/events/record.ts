import type { Repo } from "../store/types.js";
import type { OutboxWrite } from "../store/types.js";
import type { ChangeSource, ServiceContext } from "../services/context.js";
import type { KeyRecord } from "../types.js";
import type { EventType, KeyEvent } from "./types.js";
import { uuidv7 } from "./uuidv7.js";

export interface EventDraft {
  type: EventType;
  record: Pick<KeyRecord, "keyId" | "kind" | "actorId">;
  payload: Record<string, unknown>;
  /** overrides the context's principal (self-revocation, the expiry scan) */
  source?: ChangeSource;
}

const RFC3339 = (d: Date | null) => (d ? d.toISOString() : null);

/** The fields of a new key an event shows: never the secret, the hash or the request fingerprint. */
export function createdPayload(rec: KeyRecord, operation: string): Record<string, unknown> {
  return {
    operation,
    name: rec.name,
    scopes: rec.scopes,
    expire_time: RFC3339(rec.expireTime),
    visibility: rec.visibility === 2 ? "KEY_VISIBILITY_PUBLIC" : "KEY_VISIBILITY_SECRET",
    ...(rec.requestId ? { request_id: rec.requestId } : {}),
  };
}

export const REVOCATION_REASON_NAMES = [
  "REVOCATION_REASON_UNSPECIFIED",
  "REVOCATION_REASON_KEY_COMPROMISE",
  "REVOCATION_REASON_AFFILIATION_CHANGED",
  "REVOCATION_REASON_SUPERSEDED",
  "REVOCATION_REASON_PRIVILEGE_WITHDRAWN",
];

/**
 * The outbox write for `drafts` (the events and one pending delivery per matching webhook), or
 * undefined when events are off. Hand it to the repo method of the change (insertKey, revokeKey),
 * which writes it in the same statement, or to recordEvents.
 */
export function outboxWrite(ctx: ServiceContext, drafts: EventDraft[]): OutboxWrite | undefined {
  const cfg = ctx.config.events;
  if (!cfg?.enabled || drafts.length === 0) return undefined;
  const now = ctx.clock();
  const occurred = new Date(now);
  const events: KeyEvent[] = drafts.map((d) => ({
    id: uuidv7(now),
    nid: ctx.nid,
    type: d.type,
    keyId: d.record.keyId,
    keyKind: d.record.kind,
    actorId: d.record.actorId,
    source: d.source ?? ctx.principal?.source ?? "admin_api",
    principal: ctx.principal?.name ?? ctx.principalName?.() ?? "",
    occurredTime: occurred,
    payload: d.payload,
  }));
  const deliveries = events.flatMap((e) =>
    cfg.webhooks
      .filter((w) => (w.types.length === 0 || w.types.includes(e.type)) && (w.networks.length === 0 || w.networks.includes(e.nid)))
      .map((w) => ({ eventId: e.id, webhookId: w.id, nid: e.nid, nextAttemptTime: occurred })),
  );
  return { events, deliveries, notify: EVENTS_CHANNEL };
}

/**
 * Writes events (and their deliveries) with `repo`, which must be the transaction of the change:
 * a rolled-back change leaves no event. A no-op when events are off.
 */
export async function recordEvents(ctx: ServiceContext, repo: Repo, drafts: EventDraft[]): Promise<KeyEvent[]> {
  const w = outboxWrite(ctx, drafts);
  if (!w) return [];
  await repo.events.insert(w.events, w.deliveries, w.deliveries.length > 0 ? w.notify : undefined);
  return w.events;
}

/** Dispatchers LISTEN here: a notification on commit wakes them before their next poll. */
export const EVENTS_CHANNEL = "talos_events";

export const recordEvent = (ctx: ServiceContext, repo: Repo, draft: EventDraft) => recordEvents(ctx, repo, [draft]);
