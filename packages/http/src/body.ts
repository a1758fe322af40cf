import { isUtf8 } from "node:buffer";
import type { Context } from "hono";
import type { z, ZodType } from "zod";
import { TalosError, badRequest } from "@talos/core";
import { FORBIDDEN_KEYS, normaliseMessage } from "./codec.js";

/** docs/wire.md#json-requests: larger bodies are a 413. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Nesting limit of request bodies, as protobuf's C++ and Java JSON parsers have. Deeper input
 * would overflow the stack in the recursive code downstream (JSON.stringify, zod), i.e. a 500.
 */
export const MAX_JSON_DEPTH = 100;

/** A `\uD800`–`\uDFFF` escape: only escapes can put a lone surrogate into a strictly decoded body. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * The body bytes as text: strict UTF-8 (a malformed sequence is a 400, not U+FFFD, so two
 * different byte strings never become one key), one leading byte-order mark dropped.
 */
export function decodeBody(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buf.toString("utf8");
  // a replacing decode yields U+FFFD for every malformed sequence: only then are the bytes checked
  if (text.indexOf("\ufffd") !== -1 && !isUtf8(buf)) throw new TalosError("bad_request", "request body is not valid UTF-8");
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Walks the parsed body without recursion: too deep nesting and a forbidden key (at any depth,
 * inside metadata and custom_claims too) are a 400.
 */
function checkTree(root: object): void {
  const stack: [object, number][] = [[root, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (depth > MAX_JSON_DEPTH) throw new TalosError("bad_request", `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (v[i] !== null && typeof v[i] === "object") stack.push([v[i], depth + 1]);
      continue;
    }
    // JSON.parse objects inherit no enumerable keys: for-in sees exactly the own ones
    for (const k in v) {
      if (FORBIDDEN_KEYS.has(k)) throw new TalosError("bad_request", `request body must not contain the key "${k}"`, { field: k });
      const x = (v as Record<string, unknown>)[k];
      if (x !== null && typeof x === "object") stack.push([x, depth + 1]);
    }
  }
}

/** Struct fields: validated as a whole, so a problem inside one is reported at the field. */
const STRUCTS = new Set(["metadata", "custom_claims"]);

/** The field path (as zod reports it) of the first key or string with a lone surrogate, else null. */
function loneSurrogateAt(root: object): string | null {
  const stack: [unknown, string, boolean][] = [[root, "", false]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, path, inStruct] = item;
    if (typeof v === "string") {
      if (!wellFormed(v)) return path;
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, inStruct ? path : `${path}[${i}]`, inStruct]));
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (!wellFormed(k)) return path;
        stack.push([x, inStruct ? path : path ? `${path}.${k}` : k, inStruct || STRUCTS.has(k)]);
      }
    }
  }
  return null;
}

/** String.prototype.isWellFormed (Node 20, ES2024): no lone surrogate. */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Reads the request body as protojson (docs/wire.md#json-requests): empty = {}, must be a JSON object. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  return parseJsonObject(decodeBody(new Uint8Array(await c.req.arrayBuffer())));
}

/** readJsonObject on a body already decoded by decodeBody. */
export function parseJsonObject(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TalosError("bad_request", "request body is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TalosError("bad_request", "request body must be a JSON object");
  }
  checkTree(value);
  const message = normaliseMessage(value) as Record<string, unknown>;
  if (text.indexOf("\\u") !== -1 && SURROGATE_ESCAPE.test(text)) {
    const at = loneSurrogateAt(message);
    if (at !== null) throw badRequest(at, "holds an unpaired UTF-16 surrogate (\\uD800-\\uDFFF escape)");
  }
  return message;
}

/** Formats a zod issue path like `requests[3].scopes[1]`. */
export function issuePath(path: readonly PropertyKey[], prefix = ""): string {
  let out = prefix;
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/** Validates with the shape's zod schema; the first problem becomes a 400 naming the field. */
export function parseWith<S extends ZodType>(schema: S, value: unknown, prefix = ""): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issuePath(issue.path, prefix);
  throw badRequest(field, issue.message);
}

/** Like parseWith but returns the message instead of throwing (batch items). */
export function tryParse<S extends ZodType>(schema: S, value: unknown, prefix = ""): { ok: z.output<S> } | { error: string } {
  try {
    return { ok: parseWith(schema, value, prefix) };
  } catch (e) {
    if (e instanceof TalosError) return { error: e.message };
    throw e;
  }
}

export async function readBody<S extends ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  return parseWith(schema, await readJsonObject(c));
}
