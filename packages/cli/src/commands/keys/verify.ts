import { createClient } from "./client.js";
import { emit, enumShort, readStdin, renderTable } from "./output.js";
import type { CommonOptions } from "./parse.js";

/** `--no-cache` / `--no-store` arrive from commander as `cache: false` / `store: false`. */
export type VerifyOptions = CommonOptions & { cache: boolean; store: boolean };

interface VerifyResult {
  is_valid: boolean;
  status: string;
  key_id: string;
  actor_id: string;
  scopes: string[];
  expire_time: string | null;
  error_code: string;
  error_message: string;
}

/** docs/verification.md#cache: the cache directives travel as a Cache-Control request header. */
function cacheHeaders(opts: VerifyOptions): Record<string, string> {
  const directives = [...(opts.cache ? [] : ["no-cache"]), ...(opts.store ? [] : ["no-store"])];
  return directives.length ? { "cache-control": directives.join(", ") } : {};
}

function resultTable(results: VerifyResult[], index: boolean): string {
  return renderTable(
    [...(index ? ["#"] : []), "VALID", "KEY_ID", "ACTOR_ID", "STATUS", "SCOPES", "EXPIRE_TIME", "ERROR"],
    results.map((r, i) => [
      ...(index ? [String(i)] : []),
      r.is_valid ? "yes" : "no",
      r.key_id || "-",
      r.actor_id || "-",
      enumShort(r.status, "KEY_STATUS_"),
      r.scopes?.join(",") || "-",
      r.expire_time ?? "-",
      r.is_valid ? "-" : `${enumShort(r.error_code, "VERIFICATION_ERROR_")}: ${r.error_message}`,
    ]),
  );
}

/** `talos keys verify <credential>` (docs/verification.md): exit code 0 only when the credential is valid. */
export async function verifyCommand(credentialArg: string, opts: VerifyOptions): Promise<number> {
  const credential = credentialArg === "-" ? await readStdin("the credential") : credentialArg;
  const r = await createClient(opts).call<VerifyResult>("/v2alpha1/admin/apiKeys:verify", {
    body: { credential },
    headers: cacheHeaders(opts),
  });
  await emit(opts, r, { table: () => resultTable([r], false), quiet: () => (r.is_valid ? [r.key_id] : []) });
  if (r.is_valid) return 0;
  process.stderr.write(`error: credential is not valid: ${r.error_message || r.error_code}\n`);
  return 1;
}

/**
 * `talos keys batch-verify <credential>…` (docs/verification.md#batch-verify); a single `-` reads one credential per
 * line from stdin. Exit code 0 only when every credential is valid, as for `verify`.
 */
export async function batchVerifyCommand(credentialArgs: string[], opts: VerifyOptions): Promise<number> {
  const credentials =
    credentialArgs.length === 1 && credentialArgs[0] === "-"
      ? (await readStdin("credentials, one per line")).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "")
      : credentialArgs;
  const res = await createClient(opts).call<{ results: VerifyResult[] }>("/v2alpha1/admin/apiKeys:batchVerify", {
    body: { requests: credentials.map((credential) => ({ credential })) },
    headers: cacheHeaders(opts),
  });
  await emit(opts, res, {
    table: () => resultTable(res.results, true),
    // one line per credential, in order, so ids line up with the input; "-" marks an invalid one
    quiet: () => res.results.map((r) => (r.is_valid ? r.key_id : "-")),
  });
  const invalid = res.results.filter((r) => !r.is_valid).length;
  if (invalid === 0) return 0;
  process.stderr.write(`error: ${invalid} of ${res.results.length} credentials are not valid\n`);
  return 1;
}
