import { badRequest } from "../errors.js";
import { parseRfc3339 } from "../config/fields.js";
import { EVENT_TYPES, type EventType } from "./types.js";

/** A parsed event filter (docs/events.md#listing). */
export interface EventFilter {
  types?: EventType[];
  keyId?: string;
  actorId?: string;
  /** inclusive, ms */
  from?: number;
  /** exclusive, ms */
  to?: number;
}

// field, operator, then a double-quoted value (\" and \\ escapes) or a bare word
const TERM = /^\s*([a-z_]+)\s*(>=|<=|!=|=|>|<)\s*("(?:[^"\\]|\\["\\])*"|[A-Za-z0-9_.:+-]+)\s*/;
const AND = /^AND\s+/;

const fail = (problem: string): never => {
  throw badRequest("filter", problem);
};

function unquote(v: string): string {
  const s = v.startsWith('"') ? v.slice(1, -1).replace(/\\(["\\])/g, "$1") : v;
  if (s.includes("\u0000")) fail("values must not contain NUL characters");
  return s;
}

function time(field: string, v: string): number {
  const ms = parseRfc3339(v);
  if (ms === null) fail(`${field} needs an RFC 3339 time such as "2026-01-02T15:04:05Z"`);
  return ms as number;
}

/**
 * AIP-160 subset: terms joined by AND. `type` (=; a comma list `type="a,b"` matches any of them),
 * `key_id` and `actor_id` (=), `occurred_time` (>=, >, <=, <) with RFC 3339 values.
 */
export function parseEventFilter(text: string | undefined): EventFilter {
  const out: EventFilter = {};
  let rest = (text ?? "").trim();
  while (rest !== "") {
    const m = TERM.exec(rest);
    if (!m) return fail('expected terms such as type="api_key.revoked", key_id="…", actor_id="…" or occurred_time>="…" joined by AND');
    const [whole, field, op, raw] = m as unknown as [string, string, string, string];
    const value = unquote(raw);
    if (field === "type" || field === "key_id" || field === "actor_id") {
      if (op !== "=") fail(`${field} supports only =`);
      if (field === "type") {
        const types = value.split(",").map((t) => t.trim());
        for (const t of types) if (!(EVENT_TYPES as readonly string[]).includes(t)) fail(`unknown event type; known: ${EVENT_TYPES.join(", ")}`);
        out.types = types as EventType[];
      } else if (field === "key_id") out.keyId = value;
      else out.actorId = value;
    } else if (field === "occurred_time") {
      const ms = time(field, value);
      if (op === ">=") out.from = Math.max(out.from ?? -Infinity, ms);
      else if (op === ">") out.from = Math.max(out.from ?? -Infinity, ms + 1);
      else if (op === "<") out.to = Math.min(out.to ?? Infinity, ms);
      else if (op === "<=") out.to = Math.min(out.to ?? Infinity, ms + 1);
      else fail("occurred_time supports >=, >, <= and <");
    } else {
      fail(`unknown field ${JSON.stringify(field)}; allowed: type, key_id, actor_id, occurred_time`);
    }
    rest = rest.slice(whole.length);
    if (rest === "") break;
    const and = AND.exec(rest);
    if (!and) fail("terms must be joined by AND");
    rest = rest.slice(and![0].length);
    if (rest === "") fail("AND must be followed by a term");
  }
  return out;
}

/** A canonical text of the filter: page tokens are bound to it. */
export function normaliseEventFilter(f: EventFilter): string {
  return `events;${JSON.stringify([f.types ?? null, f.keyId ?? null, f.actorId ?? null, f.from ?? null, f.to ?? null])}`;
}
