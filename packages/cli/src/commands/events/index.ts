import type { Command } from "commander";
import { common, exec } from "../keys/index.js";
import * as p from "../keys/parse.js";
import type { EventListOptions } from "./run.js";

/** `talos events list|get|redeliver` (docs/events.md): declarations only; the action loads run.ts. */
export function registerEventsCommands(program: Command): void {
  const events = program.command("events").description("key lifecycle events on a running server (admin API)");
  common(
    events
      .command("list")
      .description("list events, newest first")
      .option("--type <types>", "event types, comma-separated (api_key.issued, api_key.revoked, …)")
      .option("--key <id>", "events of one key")
      .option("--actor <id>", "events of one owner's keys")
      .option("--since <time>", "occurred at or after this RFC 3339 time")
      .option("--until <time>", "occurred before this RFC 3339 time")
      .option("--filter <filter>", "a raw AIP-160 filter (instead of the flags above)")
      .option("--page-size <n>", "events per page", p.parsePageSize)
      .option("--page-token <token>", "continue from next_page_token")
      .option("--all", "follow next_page_token to the end"),
  ).action((opts: EventListOptions) => exec(async () => (await import("./run.js")).listEventsCommand(opts)));
  common(events.command("get").description("show one event and its webhook deliveries").argument("<event-id>")).action((id: string, opts: p.CommonOptions) =>
    exec(async () => (await import("./run.js")).getEventCommand(id, opts)),
  );
  common(
    events.command("redeliver").description("deliver an event to its webhooks again (attempts start over)").argument("<event-id>"),
  ).action((id: string, opts: p.CommonOptions) => exec(async () => (await import("./run.js")).redeliverCommand(id, opts)));
}
