import { badRequest } from "@talos/core";
import { parseJsonObject } from "@talos/http";

/** A parsed form body: field name -> value (files are not read here). */
export type Form = Record<string, unknown>;

export const text = (f: Form, name: string): string => {
  const v = f[name];
  return typeof v === "string" ? v.trim() : "";
};

/** One entry a line (commas also separate), blanks dropped. */
export const lines = (v: string): string[] =>
  v
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== "");

function jsonField(f: Form, name: string): unknown {
  const v = text(f, name);
  if (v === "") return undefined;
  try {
    return JSON.parse(v);
  } catch {
    throw badRequest(name, "is not valid JSON");
  }
}

/**
 * The key form as the API's JSON body (snake_case), so the API's own zod schema validates it and
 * the console shows the API's messages. Empty inputs are absent fields, except that `clearable`
 * (update, with every path in the mask) sends an emptied name, scopes or network list as empty.
 */
export function keyFields(f: Form, opts: { clearable?: boolean } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const set = (k: string, v: unknown) => {
    if (v !== undefined) out[k] = v;
  };
  if ("name" in f) set("name", opts.clearable || text(f, "name") !== "" ? text(f, "name") : undefined);
  if (text(f, "actor_id") !== "") set("actor_id", text(f, "actor_id"));
  if ("scopes" in f) {
    const s = lines(text(f, "scopes"));
    set("scopes", s.length || opts.clearable ? s : undefined);
  }
  if (text(f, "ttl") !== "") set("ttl", text(f, "ttl"));
  if ("metadata" in f) set("metadata", jsonField(f, "metadata"));
  const quota = text(f, "rate_quota");
  const window = text(f, "rate_window");
  if (quota !== "" || window !== "") {
    const n = Number(quota);
    set("rate_limit_policy", { quota: Number.isInteger(n) ? n : quota, window: window || "60s", ...(text(f, "rate_unit") ? { unit: text(f, "rate_unit") } : {}) });
  }
  if ("allowed_cidrs" in f) {
    const c = lines(text(f, "allowed_cidrs"));
    set("ip_restriction", c.length || opts.clearable ? { allowed_cidrs: c } : undefined);
  }
  const vis = text(f, "visibility");
  if (vis !== "" && vis !== "KEY_VISIBILITY_UNSPECIFIED") set("visibility", vis);
  if (text(f, "request_id") !== "") set("request_id", text(f, "request_id"));
  if (text(f, "raw_key") !== "") set("raw_key", text(f, "raw_key"));
  // the API's body checks (forbidden keys, nesting, surrogates) apply to what came from the form too
  return parseJsonObject(JSON.stringify(out));
}
