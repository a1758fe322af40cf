export * from "./types.js";
export { uuidv7 } from "./uuidv7.js";
export { EVENTS_CHANNEL, REVOCATION_REASON_NAMES, createdPayload, recordEvent, recordEvents, type EventDraft } from "./record.js";
export * from "./list-events.js";
export { parseEventFilter, type EventFilter } from "./filter.js";
export * from "./expiry-scan.js";
export { deliveryJson, eventJson, webhookBody } from "./json.js";
export { keyEvents, keyLineage, type KeyLineage } from "./lineage.js";
