import { deliveryJson, eventJson, getEvent, listEvents, redeliverEvent } from "@talos/core";
import { GetEventResponse, ListEventsResponse, RedeliverEventResponse, json, type AppDeps, type RouteDef } from "@talos/http";
import { PAGE_SIZE_DOC, errors, listInput } from "./common.js";

const TAG = ["Events"];

/** docs/events.md: the outbox, read-only, plus redelivery. */
export function eventRoutes(deps: AppDeps): RouteDef[] {
  const ctx = deps.ctx;
  return [
    {
      method: "GET",
      path: "/v2alpha1/admin/events",
      operationId: "adminListEvents",
      summary: "List key lifecycle events, newest first",
      tags: TAG,
      query: {
        page_size: PAGE_SIZE_DOC,
        page_token: "from next_page_token",
        filter: 'type="api_key.revoked" AND key_id="…" AND actor_id="…" AND occurred_time>="2026-01-01T00:00:00Z"',
      },
      responses: { 200: { description: "A page", schema: ListEventsResponse }, ...errors(400) },
      handler: async (c) => {
        const out = await listEvents(ctx, listInput(c));
        return json(200, { events: out.events.map(eventJson), next_page_token: out.nextPageToken });
      },
    },
    {
      method: "GET",
      path: "/v2alpha1/admin/events/{event_id}",
      operationId: "adminGetEvent",
      summary: "Get an event and its webhook delivery records",
      tags: TAG,
      responses: { 200: { description: "The event", schema: GetEventResponse }, 404: { description: "Event not found", schema: errors(404)[404]!.schema } },
      handler: async (_c, p) => {
        const out = await getEvent(ctx, p.event_id!);
        return json(200, { event: eventJson(out.event), deliveries: out.deliveries.map(deliveryJson) });
      },
    },
    {
      method: "POST",
      path: "/v2alpha1/admin/events/{event_id}:redeliver",
      operationId: "adminRedeliverEvent",
      summary: "Deliver an event to its webhooks again (dead-lettered or not); attempts start over",
      tags: TAG,
      responses: { 200: { description: "Queued", schema: RedeliverEventResponse }, 404: { description: "Event not found", schema: errors(404)[404]!.schema } },
      handler: async (_c, p) => json(200, await redeliverEvent(ctx, p.event_id!)),
    },
  ];
}
