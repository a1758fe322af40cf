import type { EventType } from "../events/types.js";

/** The parsed `events` section (docs/events.md); durations in ms. */
export interface WebhookConfig {
  id: string;
  url: string;
  secret: string;
  types: EventType[];
  networks: string[];
}

export interface EventsConfig {
  enabled: boolean;
  retention: number;
  /** ms, widest first */
  expiring_before: number[];
  scan_interval: number;
  webhooks: WebhookConfig[];
  delivery: {
    poll_interval: number;
    timeout: number;
    concurrency: number;
    max_attempts: number;
    backoff_base: number;
    backoff_max: number;
  };
}
