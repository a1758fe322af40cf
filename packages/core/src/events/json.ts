import type { Delivery, KeyEvent } from "./types.js";

/** An event as the admin API and webhooks show it (docs/events.md#event-shape): snake_case, RFC 3339 times. */
export function eventJson(e: KeyEvent): Record<string, unknown> {
  return {
    id: e.id,
    type: e.type,
    network_id: e.nid,
    key_id: e.keyId,
    key_kind: e.keyKind,
    actor_id: e.actorId,
    source: e.source,
    principal: e.principal,
    occurred_time: e.occurredTime.toISOString(),
    payload: e.payload,
  };
}

export function deliveryJson(d: Delivery): Record<string, unknown> {
  return {
    webhook_id: d.webhookId,
    state: d.state,
    attempts: d.attempts,
    next_attempt_time: d.state === "pending" ? d.nextAttemptTime.toISOString() : null,
    last_attempt_time: d.lastAttemptTime?.toISOString() ?? null,
    last_status: d.lastStatus,
    last_error: d.lastError,
    delivered_time: d.deliveredTime?.toISOString() ?? null,
  };
}

/** The Standard Webhooks body: `type`, `timestamp` (of the event) and `data` (the event). */
export function webhookBody(e: KeyEvent): string {
  return JSON.stringify({ type: e.type, timestamp: e.occurredTime.toISOString(), data: eventJson(e) });
}
