import { EVENT_TYPES } from "@talos/core";
import { z } from "zod";

/** Shapes of docs/events.md: the admin API's event listing and the webhook body's `data`. */
export const Event = z
  .object({
    id: z.string().describe("UUIDv7: sorts by time"),
    type: z.enum(EVENT_TYPES),
    network_id: z.string(),
    key_id: z.string(),
    key_kind: z.enum(["issued", "imported"]),
    actor_id: z.string(),
    source: z.enum(["admin_api", "self_revoke", "secret_scanning", "bulk_revoke", "expiry_scan"]),
    principal: z.string().describe("the authenticated principal's name; empty when there is none"),
    occurred_time: z.string(),
    payload: z.record(z.string(), z.unknown()).describe("the changed fields; never a secret, raw key or token"),
  })
  .meta({ id: "Event" });

export const EventDelivery = z
  .object({
    webhook_id: z.string(),
    state: z.enum(["pending", "delivered", "dead"]),
    attempts: z.number().int(),
    next_attempt_time: z.string().nullable(),
    last_attempt_time: z.string().nullable(),
    last_status: z.number().int().nullable(),
    last_error: z.string(),
    delivered_time: z.string().nullable(),
  })
  .meta({ id: "EventDelivery" });

export const ListEventsResponse = z.object({ events: z.array(Event), next_page_token: z.string() }).meta({ id: "ListEventsResponse" });
export const GetEventResponse = z.object({ event: Event, deliveries: z.array(EventDelivery) }).meta({ id: "GetEventResponse" });
export const RedeliverEventResponse = z.object({ deliveries: z.number().int().describe("delivery records made due") }).meta({ id: "RedeliverEventResponse" });
