/**
 * Bulk import and revoke and the `--format jsonpath=|jsonpointer=` selectors (docs/cli.md#bulk-import-and-revoke,
 * docs/cli.md#output-formats) as real `talos` child processes against one real `talos serve`.
 */
import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2E_TIMEOUT_MS, fetchJson, runTalos, startTalos, stopAllTalos, TALOS_BIN, tempDir, type RunResult, type TalosProcess } from "../support/process.js";

afterAll(stopAllTalos);

const NID = "00000000-0000-0000-0000-000000000000";
const importedKeyId = (raw: string) => createHash("sha512-256").update(`${NID}\0${raw}`).digest("hex");
const uniq = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

let server: TalosProcess;
const talos = (args: string[], cwd?: string): Promise<RunResult> => runTalos([...args, "-e", server.apiUrl], {}, cwd);

async function state(keyId: string): Promise<any> {
  const r = await fetchJson(`${server.apiUrl}/v2alpha1/admin/importedApiKeys/${keyId}`);
  expect(r.status, r.text).toBe(200);
  return r.body;
}

beforeAll(async () => {
  server = await startTalos({
    args: ["serve"],
    env: { TALOS_DB_DSN: "memory", TALOS_SECRETS_HMAC_CURRENT: `cli-bulk-hmac-secret-${randomUUID()}`, TALOS_CREDENTIALS_ISSUER: "https://t.test" },
  });
}, 90_000);

describe("keys imported batch-import and keys bulk-revoke", { timeout: E2E_TIMEOUT_MS * 2 }, () => {
  it("imports 2,345 JSON rows in three batches; a re-run replays every row (stable request_ids); bulk-revoke twice is harmless", async () => {
    const dir = tempDir();
    const actor = uniq("bulk");
    const raws = Array.from({ length: 2345 }, (_, i) => `legacy-${actor}-${i}`);
    const file = join(dir, "keys.json");
    writeFileSync(file, JSON.stringify(raws.map((raw_key, i) => ({ raw_key, name: `k${i}`, actor_id: actor }))));

    const first = await talos(["keys", "imported", "batch-import", "--file", file]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe("imported 2345 of 2345 rows from keys.json\n");
    expect(first.stderr).toBe(""); // no progress bar without a terminal

    // interrupted or not, the same command again: every row is a replay of the key imported then
    const again = await talos(["keys", "imported", "batch-import", "--file", file, "--format", "json"]);
    expect(again.code, again.stderr).toBe(0);
    const body = JSON.parse(again.stdout);
    expect(body).toMatchObject({ total: 2345, success_count: 2345, failure_count: 0, failed_rows_file: null });
    expect(body.results.map((r: any) => r.index)).toEqual(raws.map((_, i) => i));
    expect(body.results[2344].imported_api_key.key_id).toBe(importedKeyId(raws[2344]!));
    const listed = await fetchJson(`${server.apiUrl}/v2alpha1/admin/importedApiKeys?page_size=1000&filter=${encodeURIComponent(`actor_id="${actor}"`)}`);
    expect(listed.body.imported_api_keys).toHaveLength(1000);
    expect(listed.body.next_page_token).not.toBe("");

    const ids = raws.slice(0, 1500).map(importedKeyId);
    const revokeFile = join(dir, "revoke.jsonl");
    writeFileSync(revokeFile, `${ids.map((key_id) => JSON.stringify({ key_id })).join("\n")}\n`);
    const revoked = await talos(["keys", "bulk-revoke", "--file", revokeFile, "--reason", "key_compromise", "--format", "jsonpointer=/revoked_count"]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe("1500\n");
    const twice = await talos(["keys", "bulk-revoke", "--file", revokeFile, "--format", "jsonpath=$.already_revoked_count"]);
    expect(twice.code, twice.stderr).toBe(0);
    expect(twice.stdout).toBe("1500\n");
    const [a, b] = await Promise.all([state(ids[1499]!), state(importedKeyId(raws[1500]!))]);
    expect(a).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_KEY_COMPROMISE" });
    expect(b.status).toBe("KEY_STATUS_ACTIVE");
  });

  it("CSV and JSON lines: bad rows fail alone, into a 0600 file without the raw key; exit 1", async () => {
    const dir = tempDir();
    const actor = uniq("csv");
    const csv = join(dir, "keys.csv");
    writeFileSync(
      csv,
      `raw_key,name,actor_id,scopes,metadata,allowed_cidrs,rate_limit_quota,rate_limit_window\n` +
        `csv-${actor}-1,c1,${actor},"read,write","{""team"":""ops""}",10.0.0.0/8,5,60s\n` +
        `csv-${actor}-2,c2,${actor},read,{oops,,,\n`,
    );
    const r = await talos(["keys", "imported", "batch-import", "--file", csv, "-q"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`${importedKeyId(`csv-${actor}-1`)}\n`);
    expect(r.stderr).toBe(`error: 1 of 2 imports failed; failed rows in ${csv}.failed.jsonl\n`);
    expect(statSync(`${csv}.failed.jsonl`).mode & 0o777).toBe(0o600);
    const failedText = readFileSync(`${csv}.failed.jsonl`, "utf8");
    expect(failedText).not.toContain(`csv-${actor}-2`);
    expect(JSON.parse(failedText)).toEqual({ index: 1, error_code: "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_INVALID_ARGUMENT", error_message: "metadata: not valid JSON" });
    expect(await state(importedKeyId(`csv-${actor}-1`))).toMatchObject({
      scopes: ["read", "write"],
      metadata: { team: "ops" },
      ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] },
      rate_limit_policy: { quota: "5", window: "60s" },
    });

    const jsonl = join(dir, "keys.ndjson");
    writeFileSync(jsonl, `{"raw_key":"jl-${actor}","name":"j","actor_id":"${actor}"}\nnot json\n\n{"name":"no raw key"}\n`);
    const failedFile = join(dir, "failures.jsonl");
    const j = await talos(["keys", "imported", "batch-import", "--file", jsonl, "--failed-file", failedFile, "--format", "jsonpath=failure_count"]);
    expect(j.code).toBe(1);
    expect(j.stdout).toBe("2\n");
    expect(readFileSync(failedFile, "utf8").trim().split("\n").map((l) => JSON.parse(l).error_message)).toEqual(["not valid JSON", "raw_key is required"]);
    expect(existsSync(`${jsonl}.failed.jsonl`)).toBe(false);

    const [badColumn, badFormat] = await Promise.all([
      (async () => {
        const f = join(dir, "odd.csv");
        writeFileSync(f, "raw_key,colour\nx,red\n");
        return talos(["keys", "imported", "batch-import", "--file", f]);
      })(),
      talos(["keys", "imported", "batch-import", "--file", csv, "--input-format", "xml"]),
    ]);
    expect(badColumn).toMatchObject({ code: 2, stdout: "" });
    expect(badColumn.stderr).toMatch(/unknown CSV column\(s\) colour/);
    expect(badFormat).toMatchObject({ code: 2, stderr: "error: --input-format must be one of json, jsonl, csv\n" });
  });

  it("on a terminal (a pty from util-linux `script`) a progress bar goes to stderr", async (ctx) => {
    const hasScript = await new Promise<boolean>((r) => execFile("script", ["--version"], (e) => r(!e)));
    if (!hasScript) {
      console.warn("\n!!! SKIPPED: progress bar test — needs util-linux `script` for a pseudo-terminal.\n");
      ctx.skip();
    }
    const dir = tempDir();
    const actor = uniq("tty");
    const file = join(dir, "keys.jsonl");
    writeFileSync(file, Array.from({ length: 1500 }, (_, i) => JSON.stringify({ raw_key: `tty-${actor}-${i}`, name: "t", actor_id: actor })).join("\n"));
    const cmd = [process.execPath, TALOS_BIN, "keys", "imported", "batch-import", "--file", file, "-e", server.apiUrl].map((a) => `'${a}'`).join(" ");
    const out = await new Promise<{ code: number; text: string }>((resolve) =>
      execFile("script", ["-qec", cmd, "/dev/null"], { cwd: dir, timeout: E2E_TIMEOUT_MS }, (e, stdout) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, text: stdout })),
    );
    expect(out.code, out.text).toBe(0);
    expect(out.text).toMatch(/\d+ rows, 0 failed/);
    expect(out.text).toContain("imported 1500 of 1500 rows from keys.jsonl");
  });

  it("--format jsonpath= and jsonpointer= select from the answer; no match exits 1; a malformed selector exits 2", async () => {
    const actor = uniq("fmt");
    const issued = await talos(["keys", "issue", "fmt", "--actor", actor, "--scopes", "a,b", "--format", "jsonpointer=/issued_api_key/key_id"]);
    expect(issued.code, issued.stderr).toBe(0);
    const keyId = issued.stdout.trim();
    expect(keyId).toMatch(/^[0-9a-f-]{36}$/);
    const [scopes, name, none, bad] = await Promise.all([
      talos(["keys", "issued", "get", keyId, "--format", "jsonpath=$.scopes[*]"]),
      talos(["keys", "issued", "list", "--actor", actor, "--format", "jsonpath=issued_api_keys[?(@.key_id=='" + keyId + "')].name"]),
      talos(["keys", "issued", "get", keyId, "--format", "jsonpointer=/nope"]),
      talos(["keys", "issued", "get", keyId, "--format", "jsonpointer=nope"]),
    ]);
    expect(scopes).toMatchObject({ code: 0, stdout: "a\nb\n", stderr: "" });
    expect(name).toMatchObject({ code: 0, stdout: "fmt\n" });
    expect(none).toMatchObject({ code: 1, stdout: "", stderr: "error: jsonpointer /nope matched nothing\n" });
    expect(bad.code).toBe(2);
  });
});
