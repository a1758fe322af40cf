import { readFile } from "node:fs/promises";
import { keyBody } from "./body.js";
import { createClient } from "./client.js";
import { emit, enumShort, keyTable, readStdin, renderTable, type ApiKey } from "./output.js";
import { UsageError, type CommonOptions, type KeyFlags } from "./parse.js";

export type ImportOptions = CommonOptions & KeyFlags & { rawKey: string };

/** `talos keys imported import [name]` (docs/keys.md#import). `--raw-key -` reads the key from stdin. */
export async function importCommand(name: string | undefined, opts: ImportOptions): Promise<number> {
  const rawKey = opts.rawKey === "-" ? await readStdin("the raw key") : opts.rawKey;
  if (rawKey === "") throw new UsageError("--raw-key must not be empty");
  const body = { raw_key: rawKey, ...(name !== undefined && { name }), ...keyBody(opts) };
  const key = await createClient(opts).call<ApiKey>("/v2alpha1/admin/importedApiKeys", { body });
  await emit(opts, key, { table: () => keyTable([key]), quiet: () => [key.key_id] });
  return 0;
}

export type BatchImportOptions = CommonOptions & { file: string };

interface BatchResponse {
  results: { index: number; imported_api_key: ApiKey | null; error_code: string; error_message: string }[];
  success_count: number;
  failure_count: number;
}

/**
 * `talos keys imported batch-import --file <path|->` (docs/keys.md#batch-import): the file is a JSON array of
 * import requests (`{"requests":[…]}` is accepted too). Exits 1 when any item failed.
 */
export async function batchImportCommand(opts: BatchImportOptions): Promise<number> {
  const text = opts.file === "-" ? await readStdin("a JSON array of import requests") : await readFile(opts.file, "utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${opts.file === "-" ? "stdin" : opts.file}: not valid JSON`);
  }
  const requests = Array.isArray(parsed) ? parsed : (parsed as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(requests)) throw new Error(`${opts.file === "-" ? "stdin" : opts.file}: expected a JSON array of import requests`);

  const res = await createClient(opts).call<BatchResponse>("/v2alpha1/admin/importedApiKeys:batchCreate", { body: { requests } });
  await emit(opts, res, {
    table: () =>
      renderTable(
        ["INDEX", "KEY_ID", "NAME", "RESULT"],
        res.results.map((r) => [
          String(r.index),
          r.imported_api_key?.key_id ?? "-",
          r.imported_api_key?.name || "-",
          r.imported_api_key ? "imported" : `${enumShort(r.error_code, "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_")}: ${r.error_message}`,
        ]),
      ),
    quiet: () => res.results.flatMap((r) => (r.imported_api_key ? [r.imported_api_key.key_id] : [])),
  });
  if (res.failure_count > 0) {
    process.stderr.write(`error: ${res.failure_count} of ${res.results.length} imports failed\n`);
    return 1;
  }
  return 0;
}
