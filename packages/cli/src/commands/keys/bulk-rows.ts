import { createHash } from "node:crypto";

/**
 * Turning input records into API requests for `keys imported batch-import` and `keys bulk-revoke`
 * (docs/cli.md#bulk-import-and-revoke). A record that cannot become a request fails on its own.
 */

type Req = Record<string, unknown>;
export type Mapped = { request: Req } | { error: string };

const CSV_IMPORT_COLUMNS = new Set([
  "raw_key",
  "name",
  "actor_id",
  "scopes",
  "ttl",
  "metadata",
  "allowed_cidrs",
  "rate_limit_quota",
  "rate_limit_window",
  "visibility",
  "request_id",
]);

const list = (s: string): string[] => s.split(/[\s,]+/).filter((x) => x !== "");

/** Sorted-key JSON: the same request always gives the same text, whatever the file's key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Req)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/**
 * A request_id derived from the request itself (36 characters, the API's limit): re-running an
 * interrupted import sends the same ids, so rows already imported come back as replays, not errors.
 */
export function stableRequestId(request: Req): string {
  return `bi1-${createHash("sha256").update(canonical(request)).digest("base64url").slice(0, 32)}`;
}

/** CSV columns as in docs/cli.md#bulk-import-and-revoke; unknown columns are a usage mistake, reported once. */
export function unknownCsvColumns(record: Record<string, string>): string[] {
  return Object.keys(record).filter((k) => !CSV_IMPORT_COLUMNS.has(k));
}

function fromCsv(r: Record<string, string>): Mapped {
  const req: Req = {};
  for (const [k, v] of Object.entries(r)) {
    if (v === "") continue;
    if (k === "scopes") req.scopes = list(v);
    else if (k === "allowed_cidrs") req.ip_restriction = { allowed_cidrs: list(v) };
    else if (k === "metadata") {
      try {
        req.metadata = JSON.parse(v);
      } catch {
        return { error: "metadata: not valid JSON" };
      }
    } else if (k === "rate_limit_quota" || k === "rate_limit_window") {
      const policy = (req.rate_limit_policy ??= {}) as Req;
      policy[k === "rate_limit_quota" ? "quota" : "window"] = v;
    } else req[k] = v;
  }
  return { request: req };
}

/** An import request from a record; without a request_id it gets a stable one. */
export function importRequest(value: Record<string, unknown> | string, csv: boolean): Mapped {
  if (typeof value === "string") return { error: "expected a JSON object" };
  const mapped = csv ? fromCsv(value as Record<string, string>) : { request: { ...value } };
  if ("error" in mapped) return mapped;
  const req = mapped.request;
  if (typeof req.raw_key !== "string" || req.raw_key === "") return { error: "raw_key is required" };
  if (req.request_id === undefined || req.request_id === "") req.request_id = stableRequestId(req);
  return { request: req };
}

/** A revoke target from a record: a bare key id (string, or a CSV/JSON row with `key_id`), with optional reason and description. */
export function revokeTarget(value: Record<string, unknown> | string): { keyId: string; reason?: string; description?: string } | { error: string } {
  if (typeof value === "string") return value.trim() === "" ? { error: "key_id is required" } : { keyId: value.trim() };
  const keyId = value.key_id;
  if (typeof keyId !== "string" || keyId.trim() === "") return { error: "key_id is required" };
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  return { keyId: keyId.trim(), reason: str(value.reason), description: str(value.description) };
}
