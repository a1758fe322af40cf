import type { Context } from "hono";
import type { z, ZodType } from "zod";
import { TalosError, badRequest } from "@talos/core";
import { normaliseMessage } from "./codec.js";

/**
 * Nesting limit of request bodies, as protobuf's C++ and Java JSON parsers have. Deeper input
 * would overflow the stack in the recursive code downstream (JSON.stringify, zod), i.e. a 500.
 */
export const MAX_JSON_DEPTH = 100;

/** True when any object or array lies deeper than MAX_JSON_DEPTH levels (iterative: no stack). */
function nestsTooDeep(root: object): boolean {
  const stack: [object, number][] = [[root, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (depth > MAX_JSON_DEPTH) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) {
      if (x !== null && typeof x === "object") stack.push([x as object, depth + 1]);
    }
  }
  return false;
}

/** Reads the request body as protojson (docs/wire.md#json-requests): empty = {}, must be a JSON object. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  return parseJsonObject(await c.req.text());
}

/** readJsonObject on a body already read as text (with any byte-order mark already stripped). */
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
  if (nestsTooDeep(value)) throw new TalosError("bad_request", `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return normaliseMessage(value) as Record<string, unknown>;
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

/** Body size of a response built here (a Response has no Content-Length until it is written). */
export const BODY_BYTES = Symbol("talos.bodyBytes");
export type SizedResponse = Response & { [BODY_BYTES]?: number };

/** A JSON response from a complete plain header object, which @hono/node-server writes as is. */
export function jsonWithHeaderFields(status: number, body: unknown, fields: Record<string, string>): SizedResponse {
  const text = JSON.stringify(body);
  const res: SizedResponse = new Response(text, { status, headers: fields });
  res[BODY_BYTES] = Buffer.byteLength(text);
  return res;
}

export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  const fields: Record<string, string> = {};
  if (headers) for (const k in headers) fields[k] = headers[k]!;
  fields["content-type"] = "application/json";
  return jsonWithHeaderFields(status, body, fields);
}

export function empty(status: number): Response {
  return new Response(null, { status });
}
