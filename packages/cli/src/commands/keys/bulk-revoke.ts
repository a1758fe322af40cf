import { statSync } from "node:fs";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FailedRows, progress, ResultWriter } from "./bulk-output.js";
import { revokeTarget } from "./bulk-rows.js";
import { ApiError, createClient, seg, type Client } from "./client.js";
import { parseReason, UsageError, type CommonOptions } from "./parse.js";
import { inputFormat, openInput, readRows } from "./rows.js";

export type BulkRevokeOptions = CommonOptions & {
  file: string;
  inputFormat?: string;
  failedFile?: string;
  reason?: string;
  description?: string;
  concurrency?: string;
};

type Outcome = { result: "revoked" | "already_revoked" } | { result: "failed"; error_message: string };

const CHUNK = 1000;
const RETRIES = 4;
const ALREADY = "key is already revoked";

/** One revocation through the alias (docs/keys.md#revoke-alias); a key revoked before counts as done, so a re-run is harmless. */
async function revokeOne(client: Client, keyId: string, body: Record<string, string>): Promise<Outcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      await client.call(`/v2alpha1/admin/apiKeys/${seg(keyId)}:revoke`, { body });
      return { result: "revoked" };
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.message === ALREADY) return { result: "already_revoked" };
      if (e instanceof ApiError && (e.status === 401 || e.status === 403 || (e.status === 404 && e.message !== "API key not found"))) throw e;
      if (e instanceof ApiError && e.status < 500) return { result: "failed", error_message: e.message };
      if (attempt >= RETRIES) throw new Error(`${e instanceof Error ? e.message : String(e)}; run the same command again to continue`);
      await sleep(500 * 2 ** attempt);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * `talos keys bulk-revoke --file <path|->` (docs/cli.md#bulk-import-and-revoke): key ids from a JSON
 * array, JSON lines or CSV of any size, revoked a few at a time; already revoked keys count as done.
 */
export async function bulkRevokeCommand(opts: BulkRevokeOptions): Promise<number> {
  const format = inputFormat(opts.file, opts.inputFormat);
  const concurrency = opts.concurrency === undefined ? 8 : Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UsageError("--concurrency must be an integer from 1 to 64");
  const label = opts.file === "-" ? "stdin" : opts.file;
  const failed = new FailedRows(opts.failedFile ?? (opts.file === "-" ? "bulk-revoke.failed.jsonl" : `${opts.file}.failed.jsonl`));
  const client = createClient(opts);
  const bar = await progress(opts.file === "-" ? null : statSync(opts.file).size, opts);
  const input = openInput(opts.file, (n) => bar.bytes(n));
  let out: ResultWriter | undefined;
  const counts = { revoked: 0, already_revoked: 0 };
  let rows = 0;
  let chunk: { index: number; keyId?: string; body?: Record<string, string>; error?: string }[] = [];

  const flush = async () => {
    const outcomes = await pool(chunk, concurrency, async (r): Promise<Outcome> =>
      r.error !== undefined || r.keyId === undefined || r.body === undefined
        ? { result: "failed", error_message: r.error ?? "key_id is required" }
        : revokeOne(client, r.keyId, r.body),
    );
    outcomes.forEach((o, i) => {
      const r = chunk[i]!;
      if (o.result === "failed") failed.add({ index: r.index, key_id: r.keyId ?? null, error_message: o.error_message });
      else counts[o.result]++;
      out!.result({ index: r.index, key_id: r.keyId ?? null, ...o }, o.result === "failed" ? null : r.keyId!);
    });
    chunk = [];
    bar.rows(rows, failed.count);
    await out!.drained();
  };

  try {
    for await (const row of readRows(input, format, label)) {
      out ??= new ResultWriter(opts);
      rows++;
      const t = row.error !== undefined ? { error: row.error } : revokeTarget(row.value);
      if ("error" in t) chunk.push({ index: row.index, error: t.error });
      else {
        const body: Record<string, string> = {};
        const reason = t.reason ?? opts.reason;
        const description = t.description ?? opts.description;
        try {
          if (reason !== undefined) body.reason = parseReason(reason);
        } catch (e) {
          chunk.push({ index: row.index, keyId: t.keyId, error: `reason: ${(e as Error).message}` });
          continue;
        }
        if (description !== undefined) body.description = description;
        chunk.push({ index: row.index, keyId: t.keyId, body });
      }
      if (chunk.length === CHUNK) await flush();
    }
    if (rows === 0) throw new Error(`${label}: no key ids to revoke`);
    await flush();
  } finally {
    bar.stop();
    failed.close();
  }
  const summary = { total: rows, revoked_count: counts.revoked, already_revoked_count: counts.already_revoked, failure_count: failed.count, failed_rows_file: failed.count ? failed.path : null };
  out!.end(summary, `revoked ${counts.revoked}, already revoked ${counts.already_revoked}, failed ${failed.count} of ${rows} rows from ${opts.file === "-" ? "stdin" : basename(opts.file)}`);
  if (failed.count > 0) {
    process.stderr.write(`error: ${failed.count} of ${rows} revocations failed; failed rows in ${failed.path}\n`);
    return 1;
  }
  return 0;
}
