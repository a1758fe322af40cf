/** The `events` section (docs/events.md): the outbox, its retention, expiry warnings and webhooks. */

import { z } from "zod";
import { EVENT_TYPES } from "../events/types.js";
import { UUID_PATTERN } from "../keys/ids.js";
import { EMPTY, boolSchema, durationMs, durationSchema, enumSchema, intSchema, leaf, mapping, stringList, stringSchema } from "./fields.js";

const WEBHOOK_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const SECRET = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

// Messages never quote the value: `secret` is a credential.
const secretSchema = () =>
  stringSchema().refine(
    (s) => {
      if (!SECRET.test(s)) return false;
      const bytes = Buffer.from(s.slice("whsec_".length), "base64").length;
      return bytes >= 24 && bytes <= 64;
    },
    { error: "must be a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 random bytes" },
  );

const urlSchema = () =>
  stringSchema().refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === "http:" || u.protocol === "https:") && u.username === "" && u.password === "";
      } catch {
        return false;
      }
    },
    { error: "must be an http:// or https:// URL without credentials" },
  );

const webhookSchema = mapping({
  id: stringSchema().regex(WEBHOOK_ID, { error: "must be 1 to 64 letters, digits, '_', '.' or '-'" }),
  url: urlSchema(),
  secret: secretSchema(),
  types: z.array(enumSchema(EVENT_TYPES)).prefault([]),
  networks: stringList(stringSchema().regex(new RegExp(`^${UUID_PATTERN}$`), { error: "must be a network id (UUID)" })).prefault([]),
});

const webhooksSchema = z.array(webhookSchema, { error: "must be a list of webhook mappings" }).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((w, i) => {
    if (seen.has(w.id)) ctx.addIssue({ code: "custom", path: [i, "id"], message: "is used by an earlier webhook", input: undefined });
    seen.add(w.id);
  });
});

/** One duration or a list of them (`7d` or `[7d, 1d]`), as ms, widest first, without repeats. */
const windowsSchema = () =>
  z.unknown().transform((input, ctx): number[] => {
    const items = Array.isArray(input) ? input : [input];
    const out: number[] = [];
    for (const item of items) {
      const ms = durationMs(item, { min: 1 });
      if (typeof ms === "string") {
        ctx.issues.push({ code: "custom", message: `${ms} (or a list of them)`, input: undefined });
        return z.NEVER;
      }
      out.push(ms);
    }
    return [...new Set(out)].sort((a, b) => b - a);
  });

const section = <T extends z.core.$ZodLooseShape>(shape: T) => mapping(shape).prefault(EMPTY);

export const eventsSchema = section({
  enabled: leaf("bool", boolSchema().prefault(true).describe("Record lifecycle events of keys (the outbox) and deliver them to webhooks.")),
  retention: leaf(
    "duration",
    durationSchema({ min: 60_000 })
      .prefault("30d")
      .describe("How long events (and their delivery records) are kept; older ones are pruned in the background."),
  ),
  expiring_before: leaf(
    "string[]",
    windowsSchema()
      .prefault(["7d"])
      .describe(
        "When a key enters one of these windows before its expiry, api_key.expiring is emitted once for that window; a duration or a list such as [7d, 1d].",
      ),
  ),
  scan_interval: leaf(
    "duration",
    durationSchema({ min: 100 }).prefault("1m").describe("How often the expiry scan and the retention pruning run (one instance at a time)."),
  ),
  webhooks: leaf(
    "object[]",
    webhooksSchema
      .prefault([])
      .describe(
        "Endpoints events are delivered to: {id, url, secret (whsec_…), types (empty: all), networks (empty: all)}. Signed per Standard Webhooks.",
      ),
  ),
  delivery: section({
    poll_interval: leaf(
      "duration",
      durationSchema({ min: 10 }).prefault("1s").describe("How often the dispatcher looks for due deliveries when nothing woke it."),
    ),
    timeout: leaf(
      "duration",
      durationSchema({ min: 100 }).prefault("10s").describe("Timeout of one webhook request; a slower answer counts as a failed attempt."),
    ),
    concurrency: leaf("int", intSchema(1, 256).prefault(4).describe("Requests in flight to one webhook from one instance.")),
    max_attempts: leaf(
      "int",
      intSchema(1, 1000)
        .prefault(33)
        .describe("Attempts before a delivery is dead-lettered; the default back-off spreads 33 attempts over about 24 hours."),
    ),
    backoff_base: leaf(
      "duration",
      durationSchema({ min: 1 }).prefault("5s").describe("Delay after the first failed attempt; it doubles with each further failure (with jitter)."),
    ),
    backoff_max: leaf("duration", durationSchema({ min: 1 }).prefault("1h").describe("Longest delay between two attempts.")),
  }),
});
