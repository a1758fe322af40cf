import { badRequest } from "../errors.js";
import { KeyStatus, type KeyKind } from "../types.js";

/** A parsed list filter (docs/keys.md#filters). An empty object means no filter. */
export interface ListFilter {
  actorId?: string;
  status?: KeyStatus;
  /** only where the caller allows the `kind` field (batch revoke: docs/leaked-keys.md#bulk-revoke-by-owner) */
  kind?: KeyKind;
}

/** The fields a filter may name; lists take actor_id and status. */
export type FilterField = "actor_id" | "status" | "kind";
const LIST_FIELDS: readonly FilterField[] = ["actor_id", "status"];

const STATUS_BY_NAME: ReadonlyMap<string, KeyStatus> = new Map([
  ["KEY_STATUS_ACTIVE", KeyStatus.ACTIVE],
  ["KEY_STATUS_REVOKED", KeyStatus.REVOKED],
  ["KEY_STATUS_EXPIRED", KeyStatus.EXPIRED],
]);
const NAME_BY_STATUS: ReadonlyMap<KeyStatus, string> = new Map([
  [KeyStatus.UNSPECIFIED, "KEY_STATUS_UNSPECIFIED"],
  ...[...STATUS_BY_NAME].map(([name, status]) => [status, name] as const),
]);

const WS = new Set([" ", "\t", "\r", "\n"]);
const WORD_CHAR = /[A-Za-z0-9_.]/;
const OPERATOR_CHAR = /[=!<>:~]/;

function fail(problem: string): never {
  throw badRequest("filter", problem);
}

/** Cursor over the filter text; every helper advances `i` past what it consumed. */
interface Cursor {
  s: string;
  i: number;
}

function skipWs(c: Cursor): boolean {
  const start = c.i;
  while (c.i < c.s.length && WS.has(c.s[c.i]!)) c.i++;
  return c.i > start;
}

function readWhile(c: Cursor, re: RegExp): string {
  const start = c.i;
  while (c.i < c.s.length && re.test(c.s[c.i]!)) c.i++;
  return c.s.slice(start, c.i);
}

function describeAt(c: Cursor): string {
  const ch = c.s[c.i];
  if (ch === undefined) return "end of filter";
  return `${JSON.stringify(ch)} at position ${c.i + 1}`;
}

/** A double-quoted string; only \" and \\ are escapes. */
function readQuoted(c: Cursor, field: string): string {
  c.i++; // opening quote
  let out = "";
  for (;;) {
    const ch = c.s[c.i];
    if (ch === undefined) return fail(`unterminated string in the ${field} value`);
    c.i++;
    if (ch === '"') return out;
    // no stored value can contain NUL (PostgreSQL text cannot hold it), and SQL would reject it
    if (ch === "\u0000") return fail(`the ${field} value must not contain NUL characters`);
    if (ch === "\\") {
      const next = c.s[c.i];
      if (next === undefined) return fail(`unterminated string in the ${field} value`);
      if (next !== '"' && next !== "\\") {
        return fail(`invalid escape in the ${field} value: only \\" and \\\\ are allowed`);
      }
      out += next;
      c.i++;
    } else {
      out += ch;
    }
  }
}

function readStatus(c: Cursor): KeyStatus {
  const quoted = c.s[c.i] === '"';
  let name: string;
  if (quoted) {
    const end = c.s.indexOf('"', c.i + 1);
    if (end < 0) return fail("unterminated string in the status value");
    name = c.s.slice(c.i + 1, end);
    c.i = end + 1;
  } else {
    name = readWhile(c, /[A-Za-z0-9_]/);
    if (name === "") return fail(`expected a status name, found ${describeAt(c)}`);
  }
  const status = STATUS_BY_NAME.get(name);
  if (status === undefined) {
    return fail(`unknown status ${JSON.stringify(name)}; use KEY_STATUS_ACTIVE, KEY_STATUS_REVOKED or KEY_STATUS_EXPIRED`);
  }
  return status;
}

function readKind(c: Cursor): KeyKind {
  const name = c.s[c.i] === '"' ? readQuoted(c, "kind") : readWhile(c, /[A-Za-z0-9_]/);
  if (name === "issued" || name === "imported") return name;
  return fail("unknown kind; use issued or imported");
}

function parseTerm(c: Cursor, into: ListFilter, fields: readonly FilterField[]): void {
  const ch = c.s[c.i];
  if (ch === "(" || ch === ")") fail("parentheses are not supported");
  if (ch === "-") fail("NOT is not supported");
  const field = readWhile(c, WORD_CHAR);
  if (field === "") fail(`expected ${fields.join(" or ")}, found ${describeAt(c)}`);
  if (field === "NOT") fail("NOT is not supported");
  if (field === "OR") fail("OR is not supported");
  if (!(fields as readonly string[]).includes(field)) {
    fail(`unsupported field ${JSON.stringify(field)}; only ${fields.join(" and ")} can be filtered`);
  }
  skipWs(c);
  const op = readWhile(c, OPERATOR_CHAR);
  if (op === "") fail(`expected = after ${field}, found ${describeAt(c)}`);
  if (op !== "=") fail(`unsupported operator ${JSON.stringify(op)}; only = is supported`);
  skipWs(c);
  if (field === "actor_id") {
    if (into.actorId !== undefined) fail("actor_id may appear only once");
    if (c.s[c.i] !== '"') fail(`the actor_id value must be a double-quoted string, found ${describeAt(c)}`);
    into.actorId = readQuoted(c, "actor_id");
  } else if (field === "kind") {
    if (into.kind !== undefined) fail("kind may appear only once");
    into.kind = readKind(c);
  } else {
    if (into.status !== undefined) fail("status may appear only once");
    into.status = readStatus(c);
  }
}

/** docs/keys.md#filters (AIP-160 subset). Absent, empty or blank text means no filter. */
export function parseFilter(text: string | undefined, fields: readonly FilterField[] = LIST_FIELDS): ListFilter {
  const out: ListFilter = {};
  if (text === undefined) return out;
  const c: Cursor = { s: text, i: 0 };
  skipWs(c);
  if (c.i === text.length) return out;
  parseTerm(c, out, fields);
  for (;;) {
    const sawWs = skipWs(c);
    if (c.i === text.length) return out;
    const ch = c.s[c.i];
    if (ch === "(" || ch === ")") fail("parentheses are not supported");
    if (!sawWs) fail(`unexpected ${describeAt(c)}`);
    const word = readWhile(c, WORD_CHAR);
    const upper = word.toUpperCase();
    if (upper === "OR") fail("OR is not supported");
    if (upper === "NOT") fail("NOT is not supported");
    if (upper === "AND" && word !== "AND") fail("AND must be upper-case");
    if (word !== "AND") fail(word === "" ? `unexpected ${describeAt(c)}` : `expected AND, found ${JSON.stringify(word)}`);
    const wsAfterAnd = skipWs(c);
    if (c.i === text.length) fail("expected a term after AND");
    if (!wsAfterAnd && c.s[c.i] !== "(") fail(`expected whitespace after AND, found ${describeAt(c)}`);
    parseTerm(c, out, fields);
  }
}

/** docs/keys.md#page-tokens: `actor_id="<value>" AND status=<NAME>`, absent terms left out, "" for none. */
export function normaliseFilter(f: ListFilter): string {
  const parts: string[] = [];
  if (f.actorId !== undefined) parts.push(`actor_id="${f.actorId.replace(/[\\"]/g, "\\$&")}"`);
  if (f.status !== undefined) parts.push(`status=${NAME_BY_STATUS.get(f.status) ?? "KEY_STATUS_UNSPECIFIED"}`);
  if (f.kind !== undefined) parts.push(`kind=${f.kind}`);
  return parts.join(" AND ");
}
