import { parse } from "csv-parse/sync";
import { TalosError, type BatchItem } from "@talos/core";
import { ImportApiKeyRequest, parseJsonObject, tryParse } from "@talos/http";
import { lines } from "./forms.js";

/** Rows one upload may hold (each chunk of 100 is one call of the batch verb). */
export const MAX_ROWS = 10_000;

const CSV_COLUMNS = ["raw_key", "name", "actor_id", "scopes", "ttl", "metadata"];

/** A CSV row (header: raw_key,name,actor_id[,scopes][,ttl][,metadata]) as the API's import body. */
function csvRow(row: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === "" || !CSV_COLUMNS.includes(k)) continue;
    if (k === "scopes") out.scopes = lines(v.replaceAll(";", ",").replaceAll(" ", ","));
    else if (k === "metadata") {
      try {
        out.metadata = JSON.parse(v);
      } catch {
        out.metadata = v; // the schema reports it as not an object
      }
    } else out[k] = v;
  }
  return out;
}

/**
 * Reads an uploaded CSV or JSON file (a JSON array of import bodies, or `{"requests": [...]}`, as
 * the batch API takes) into batch items; each row is checked with the API's import schema.
 */
export function parseBatchFile(name: string, content: string): BatchItem[] {
  const trimmed = content.replace(/^\ufeff/, "").trimStart();
  let rows: unknown[];
  if (name.toLowerCase().endsWith(".json") || trimmed.startsWith("[") || trimmed.startsWith("{")) {
    const wrapped = parseJsonObject(trimmed.startsWith("[") ? `{"requests":${trimmed}}` : trimmed);
    if (!Array.isArray(wrapped.requests)) throw new TalosError("bad_request", "the JSON file must be an array of keys or {\"requests\": [...]}");
    rows = wrapped.requests;
  } else {
    let records: Record<string, string>[];
    try {
      records = parse(trimmed, { columns: true, skip_empty_lines: true, trim: true });
    } catch (e) {
      throw new TalosError("bad_request", `the CSV file cannot be read: ${e instanceof Error ? e.message.split("\n")[0] : "malformed"}`);
    }
    if (records.length && !("raw_key" in records[0]!)) throw new TalosError("bad_request", "the CSV file needs a header row with raw_key, name and actor_id");
    rows = records.map(csvRow);
  }
  if (rows.length === 0) throw new TalosError("bad_request", "the file holds no keys");
  if (rows.length > MAX_ROWS) throw new TalosError("bad_request", `the file holds ${rows.length} keys; at most ${MAX_ROWS} per upload`);
  return rows.map((raw, i) => {
    const r = tryParse(ImportApiKeyRequest, raw, `row ${i + 1}`);
    return "ok" in r ? { input: r.ok } : { invalid: r.error };
  });
}
