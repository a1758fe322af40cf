import { JSONPath } from "jsonpath-plus";
import jsonpointer from "jsonpointer";

/** A selection that matched nothing: a runtime error (exit 1), like a key that is not there. */
export class NoMatchError extends Error {}

/** Strings print bare (ready for `$(…)`), everything else as compact JSON; one value per line. */
const line = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

/**
 * `--format jsonpath=<expr>` (JSONPath, RFC 9535 syntax as jsonpath-plus reads it; a missing leading
 * `$` is added, so `key_id` and `.key_id` work) or `--format jsonpointer=<ptr>` (RFC 6901) over the
 * JSON answer (docs/cli.md#output-formats).
 */
export function select(data: unknown, format: string): string {
  if (format.startsWith("jsonpointer=")) {
    const ptr = format.slice("jsonpointer=".length);
    const v: unknown = jsonpointer.get(data as object, ptr);
    if (v === undefined) throw new NoMatchError(`jsonpointer ${ptr === "" ? '""' : ptr} matched nothing`);
    return `${line(v)}\n`;
  }
  const expr = format.slice("jsonpath=".length);
  const path = expr.startsWith("$") ? expr : expr.startsWith(".") || expr.startsWith("[") ? `$${expr}` : `$.${expr}`;
  let found: unknown[];
  try {
    found = JSONPath({ path, json: data as object, wrap: true, eval: "safe" }) as unknown[];
  } catch (e) {
    throw new NoMatchError(`jsonpath ${expr}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (found.length === 0) throw new NoMatchError(`jsonpath ${expr} matched nothing`);
  return `${found.map(line).join("\n")}\n`;
}
