import type { ChangeSource, KeyKind } from "../types.js";

/** Lifecycle event types (docs/events.md#types). */
export const EVENT_TYPES = [
  "api_key.issued",
  "api_key.imported",
  "api_key.updated",
  "api_key.rotated",
  "api_key.revoked",
  "api_key.deleted",
  "api_key.expiring",
  "api_key.expired",
  "api_key.leaked",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One stored event. The payload holds changed fields only: never a secret, raw key or token. */
export interface KeyEvent {
  id: string;
  nid: string;
  type: EventType;
  keyId: string;
  keyKind: KeyKind;
  actorId: string;
  source: ChangeSource;
  /** the authenticated principal's name, "" when there is none */
  principal: string;
  occurredTime: Date;
  payload: Record<string, unknown>;
}

export type DeliveryState = "pending" | "delivered" | "dead";

/** What the outbox knows about delivering one event to one webhook. */
export interface Delivery {
  eventId: string;
  webhookId: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptTime: Date;
  lastAttemptTime: Date | null;
  /** HTTP status of the last attempt; null when it got no answer */
  lastStatus: number | null;
  lastError: string;
  deliveredTime: Date | null;
}

export interface EventQuery {
  types?: EventType[];
  keyId?: string;
  actorId?: string;
  /** inclusive */
  from?: Date;
  /** exclusive */
  to?: Date;
  /** exclusive upper bound on id (newest first) */
  beforeId?: string;
  limit: number;
}

/** A delivery claimed by one dispatcher: no other instance touches it until `leaseUntil`. */
export interface ClaimedDelivery {
  event: KeyEvent;
  webhookId: string;
  attempts: number;
}
