import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

/** key_id sorts in byte order (docs/keys.md#list): the column, and so every index on it, uses collation "C". */
const textC = customType<{ data: string; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
});

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

/** Issued and imported keys share one table; `kind` tells them apart. */
export const apiKeys = pgTable(
  "api_keys",
  {
    nid: uuid("nid").notNull(),
    keyId: textC("key_id").notNull(),
    kind: text("kind").$type<"issued" | "imported">().notNull(),
    name: text("name").notNull().default(""),
    actorId: text("actor_id").notNull().default(""),
    scopes: text("scopes").array().notNull().default(sql`'{}'::text[]`),
    metadata: jsonb("metadata").$type<Record<string, unknown>>(),
    createTime: ts("create_time").notNull(),
    updateTime: ts("update_time").notNull(),
    expireTime: ts("expire_time"),
    lastUsedTime: ts("last_used_time"),
    rateLimitQuota: bigint("rate_limit_quota", { mode: "number" }),
    rateLimitWindowSeconds: integer("rate_limit_window_seconds"),
    rateLimitUnit: text("rate_limit_unit"),
    allowedCidrs: text("allowed_cidrs").array(),
    revoked: boolean("revoked").notNull().default(false),
    revocationReason: smallint("revocation_reason").notNull().default(0),
    revocationDescription: text("revocation_description").notNull().default(""),
    visibility: smallint("visibility").notNull().default(1),
    requestId: text("request_id"),
    requestFingerprint: text("request_fingerprint"),
  },
  (t) => [
    primaryKey({ name: "api_keys_pkey", columns: [t.nid, t.keyId] }),
    unique("api_keys_nid_kind_request_id_key").on(t.nid, t.kind, t.requestId),
    index("api_keys_nid_kind_actor_id_key_id_idx").on(t.nid, t.kind, t.actorId, t.keyId),
    index("api_keys_nid_kind_revoked_expire_time_idx").on(t.nid, t.kind, t.revoked, t.expireTime),
    // unfiltered listing walks one kind in key_id order without skipping the other kind's rows
    index("api_keys_nid_kind_key_id_idx").on(t.nid, t.kind, t.keyId),
    check("api_keys_kind_check", sql`${t.kind} in ('issued', 'imported')`),
  ],
);

export const networks = pgTable("networks", {
  nid: uuid("nid").primaryKey(),
  createTime: ts("create_time").notNull().defaultNow(),
});

/**
 * Verifications per key, per UTC hour, per outcome (docs/observability.md#usage-history): instances
 * add their in-memory counts with an upsert, so counts from every instance sum up.
 */
export const keyUsage = pgTable(
  "key_usage",
  {
    nid: uuid("nid").notNull(),
    keyId: textC("key_id").notNull(),
    hour: ts("hour").notNull(),
    outcome: text("outcome").notNull(),
    count: bigint("count", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ name: "key_usage_pkey", columns: [t.nid, t.keyId, t.hour, t.outcome] }),
    // retention deletes by age across every key
    index("key_usage_hour_idx").on(t.hour),
  ],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ApiKeyInsert = typeof apiKeys.$inferInsert;

/**
 * The outbox (docs/events.md): one row per lifecycle event, written in the transaction of the change.
 * `id` is a UUIDv7, so id order is time order and paging newest-first walks the primary key.
 */
export const events = pgTable(
  "events",
  {
    id: uuid("id").primaryKey(),
    nid: uuid("nid").notNull(),
    type: text("type").notNull(),
    keyId: textC("key_id").notNull(),
    keyKind: text("key_kind").$type<"issued" | "imported">().notNull(),
    actorId: text("actor_id").notNull().default(""),
    source: text("source").notNull(),
    principal: text("principal").notNull().default(""),
    occurredTime: ts("occurred_time").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
  },
  (t) => [
    index("events_nid_id_idx").on(t.nid, t.id),
    index("events_nid_key_id_id_idx").on(t.nid, t.keyId, t.id),
    index("events_nid_actor_id_id_idx").on(t.nid, t.actorId, t.id),
    index("events_nid_type_id_idx").on(t.nid, t.type, t.id),
    index("events_occurred_time_idx").on(t.occurredTime),
  ],
);

/** One row per (event, webhook): the delivery state the dispatchers share (claimed with FOR UPDATE SKIP LOCKED). */
export const eventDeliveries = pgTable(
  "event_deliveries",
  {
    eventId: uuid("event_id")
      .notNull()
      .references(() => events.id, { onDelete: "cascade" }),
    webhookId: text("webhook_id").notNull(),
    nid: uuid("nid").notNull(),
    state: text("state").$type<"pending" | "delivered" | "dead">().notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptTime: ts("next_attempt_time").notNull(),
    lastAttemptTime: ts("last_attempt_time"),
    lastStatus: integer("last_status"),
    lastError: text("last_error").notNull().default(""),
    deliveredTime: ts("delivered_time"),
  },
  (t) => [
    primaryKey({ name: "event_deliveries_pkey", columns: [t.eventId, t.webhookId] }),
    index("event_deliveries_pending_idx").on(t.webhookId, t.nextAttemptTime).where(sql`${t.state} = 'pending'`),
    check("event_deliveries_state_check", sql`${t.state} in ('pending', 'delivered', 'dead')`),
  ],
);

/** Expiry warnings already emitted (`mark` is `expiring:<window>` or `expired`): each fires once per key. */
export const eventExpiryMarks = pgTable(
  "event_expiry_marks",
  {
    nid: uuid("nid").notNull(),
    keyId: textC("key_id").notNull(),
    mark: text("mark").notNull(),
    createTime: ts("create_time").notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "event_expiry_marks_pkey", columns: [t.nid, t.keyId, t.mark] })],
);

export type EventRow = typeof events.$inferSelect;
export type EventDeliveryRow = typeof eventDeliveries.$inferSelect;
