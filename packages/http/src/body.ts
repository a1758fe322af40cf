import type { Context } from "hono";
import type { z, ZodType } from "zod";
import { TalosError, badRequest } from "@talos/core";
import { normaliseMessage } from "./codec.js";

/** Reads the request body as protojson (SPEC.md §3.2): empty = {}, must be a JSON object. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
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

export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  const h = new Headers(headers);
  h.set("Content-Type", "application/json");
  return new Response(JSON.stringify(body), { status, headers: h });
}

export function empty(status: number): Response {
  return new Response(null, { status });
}
