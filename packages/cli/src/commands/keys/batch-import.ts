import { statSync } from "node:fs";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FailedRows, progress, ResultWriter } from "./bulk-output.js";
import { importRequest, unknownCsvColumns } from "./bulk-rows.js";
import { ApiError, createClient, type Client } from "./client.js";
import type { ApiKey } from "./output.js";
import { UsageError, type CommonOptions } from "./parse.js";
import { inputFormat, openInput, readRows } from "./rows.js";

export type BatchImportOptions = CommonOptions & { file: string; inputFormat?: string; failedFile?: string };

interface BatchResult {
  index: number;
  imported_api_key: ApiKey | null;
  error_code: string;
  error_message: string;
}

const BATCH = 1000;
const RETRIES = 4;
const PREFIX = "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_";

/** The item code behind a whole-batch envelope (docs/keys.md#batch-import); null: not a per-item failure. */
function batchFailureCode(e: ApiError): string | null {
  if (e.status === 400) return "INVALID_ARGUMENT";
  if (e.status === 409) return e.message === "all keys in batch already exist" ? "ALREADY_EXISTS" : "FAILED_PRECONDITION";
  if (e.status === 429) return "RESOURCE_EXHAUSTED";
  return null;
}

/** Retries what a re-send cannot make worse (network, 5xx): every item carries a request_id. */
async function sendBatch(client: Client, requests: object[]): Promise<BatchResult[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await client.call<{ results: BatchResult[] }>("/v2alpha1/admin/importedApiKeys:batchCreate", { body: { requests } });
      return res.results;
    } catch (e) {
      if (e instanceof ApiError && e.status < 500) {
        // every item failed: the server answered with one envelope for the batch (docs/keys.md#batch-import)
        const code = batchFailureCode(e);
        if (code === null) throw e; // 401, 403, 404: the endpoint or credentials are wrong, stop
        return requests.map((_, index) => ({ index, imported_api_key: null, error_code: PREFIX + code, error_message: e.message }));
      }
      if (attempt >= RETRIES) throw new Error(`${e instanceof Error ? e.message : String(e)}; the rows sent so far are imported: run the same command again to continue`);
      await sleep(500 * 2 ** attempt);
    }
  }
}

/**
 * `talos keys imported batch-import --file <path|->` (docs/cli.md#bulk-import-and-revoke): a JSON
 * array, JSON lines or CSV of any size, sent in batches of 1000 with stable request_ids; results
 * stream out, failed rows go to a file. Exits 1 when any row failed.
 */
export async function batchImportCommand(opts: BatchImportOptions): Promise<number> {
  const format = inputFormat(opts.file, opts.inputFormat);
  const label = opts.file === "-" ? "stdin" : opts.file;
  const total = opts.file === "-" ? null : statSync(opts.file).size;
  const failed = new FailedRows(opts.failedFile ?? (opts.file === "-" ? "batch-import.failed.jsonl" : `${opts.file}.failed.jsonl`));
  const client = createClient(opts);
  const bar = await progress(total, opts);
  const input = openInput(opts.file, (n) => bar.bytes(n));
  let out: ResultWriter | undefined;
  let ok = 0;
  let rows = 0;
  // local failures stay in the batch so results stream in input order
  let batch: { index: number; request?: Record<string, unknown>; error?: string }[] = [];
  let sendable = 0;

  const fail = (index: number, code: string, message: string, req?: Record<string, unknown>) => {
    // never the raw key: the row number finds it in the input
    failed.add({ index, error_code: code, error_message: message, request_id: req?.request_id, name: req?.name, actor_id: req?.actor_id });
    out?.result({ index, imported_api_key: null, error_code: code, error_message: message }, null);
  };
  const flush = async () => {
    const sent = batch.filter((b) => b.request !== undefined);
    const results = sent.length ? await sendBatch(client, sent.map((b) => b.request!)) : [];
    const byRow = new Map(results.map((r) => [sent[r.index]!.index, r]));
    for (const row of batch) {
      const r = byRow.get(row.index);
      if (r?.imported_api_key) {
        ok++;
        out!.result({ ...r, index: row.index }, r.imported_api_key.key_id);
      } else if (r) fail(row.index, r.error_code, r.error_message, row.request);
      else fail(row.index, `${PREFIX}INVALID_ARGUMENT`, row.error ?? "no result from the server", row.request);
    }
    batch = [];
    sendable = 0;
    await out!.drained();
    bar.rows(rows, failed.count);
  };

  try {
    for await (const row of readRows(input, format, label)) {
      if (rows === 0 && format === "csv" && typeof row.value === "object") {
        const unknown = unknownCsvColumns(row.value as Record<string, string>);
        if (unknown.length) throw new UsageError(`${label}: unknown CSV column(s) ${unknown.join(", ")} (see docs/cli.md#bulk-import-and-revoke)`);
      }
      out ??= new ResultWriter(opts);
      rows++;
      const mapped = row.error !== undefined ? { error: row.error } : importRequest(row.value, format === "csv");
      if ("error" in mapped) batch.push({ index: row.index, error: mapped.error });
      else {
        batch.push({ index: row.index, request: mapped.request });
        sendable++;
      }
      if (sendable === BATCH || batch.length >= 4 * BATCH) await flush();
    }
    if (rows === 0) throw new Error(`${label}: no rows to import`);
    await flush();
  } finally {
    bar.stop();
    failed.close();
  }
  const summary = { total: rows, success_count: ok, failure_count: failed.count, failed_rows_file: failed.count ? failed.path : null };
  out!.end(summary, `imported ${ok} of ${rows} rows from ${opts.file === "-" ? "stdin" : basename(opts.file)}`);
  if (failed.count > 0) {
    process.stderr.write(`error: ${failed.count} of ${rows} imports failed; failed rows in ${failed.path}\n`);
    return 1;
  }
  return 0;
}
