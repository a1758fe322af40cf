/**
 * The HTTP client commands of the CLI (docs/cli.md#client-commands): `talos keys …` and `talos jwk get`, run as
 * real child processes against one real `talos serve` (and, for headers and odd answers, a tiny
 * local HTTP server that records what the CLI sends).
 */
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { E2E_TIMEOUT_MS, fetchJson, runTalos, startTalos, stopAllTalos, TALOS_BIN, tempDir, type RunResult, type TalosProcess } from "../support/process.js";

afterAll(stopAllTalos);

const NID = "00000000-0000-0000-0000-000000000000";
const importedKeyId = (raw: string) => createHash("sha512-256").update(`${NID}\0${raw}`).digest("hex");
const uniq = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

let server: TalosProcess;
let kid: string;

/** `talos <args…> -e <server>`; with `input`, stdin is piped (runTalos leaves stdin closed). */
async function talos(args: string[], input?: string, endpoint = server.apiUrl): Promise<RunResult> {
  const full = [...args, "-e", endpoint];
  if (input === undefined) return runTalos(full);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TALOS_") && !k.startsWith("VITEST") && k !== "NODE_ENV"));
  const proc = spawn(process.execPath, [TALOS_BIN, ...full], { cwd: tempDir(), env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  proc.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  proc.stdin.end(input);
  const code = await new Promise<number | null>((resolve) => proc.once("close", (c) => resolve(c)));
  return { code, stdout, stderr };
}

/** Runs a command that must succeed; returns its stdout parsed as JSON when `json` is set. */
async function ok(args: string[], input?: string): Promise<string> {
  const r = await talos(args, input);
  expect(r.code, `talos ${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r.stdout;
}
const okJson = async (args: string[], input?: string): Promise<any> => JSON.parse(await ok([...args, "--format", "json"], input));

// Set-up and after-the-fact checks talk HTTP directly, so every CLI process started here is the
// command under test (process start-up dominates this file's run time).
const ISSUED = "/v2alpha1/admin/issuedApiKeys";
const IMPORTED = "/v2alpha1/admin/importedApiKeys";

/** Issues a key over HTTP: { id, secret }. */
async function seed(actor: string, fields: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const r = await fetchJson(server.apiUrl + ISSUED, { body: { name: "k", actor_id: actor, ...fields } });
  expect(r.status, r.text).toBe(201);
  return { id: r.body.issued_api_key.key_id, secret: r.body.secret };
}

/** Reads a key over HTTP. */
async function state(path: string): Promise<any> {
  const r = await fetchJson(server.apiUrl + path);
  expect(r.status, r.text).toBe(200);
  return r.body;
}

async function isValid(credential: string): Promise<boolean> {
  const r = await fetchJson(`${server.apiUrl}/v2alpha1/admin/apiKeys:verify`, { body: { credential }, headers: { "cache-control": "no-cache" } });
  return r.body.is_valid as boolean;
}

beforeAll(async () => {
  const gen = await runTalos(["jwk", "generate", "eddsa", "--base64", "--kid", "cli-e2e"]);
  expect(gen.code, gen.stderr).toBe(0);
  kid = "cli-e2e";
  server = await startTalos({
    args: ["serve"],
    env: {
      TALOS_DB_DSN: "memory",
      TALOS_SECRETS_HMAC_CURRENT: `cli-e2e-hmac-secret-${randomUUID()}`,
      TALOS_CREDENTIALS_ISSUER: "https://t.test",
      TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: gen.stdout.trim(),
    },
  });
}, 90_000);

describe("talos keys (client commands)", { timeout: E2E_TIMEOUT_MS }, () => {
  it("issue: json carries the key and its secret; -q prints only the secret; table shows both; stderr stays empty", async () => {
    const actor = uniq("issue");
    const [json, quiet, table] = await Promise.all([
      talos(["keys", "issue", "ci-bot", "--actor", actor, "--scopes", "read,write", "--ttl", "30d", "--metadata", '{"team":"ops"}',
        "--allowed-cidrs", "10.0.0.0/8,2001:db8::/32", "--rate-limit-quota", "7", "--rate-limit-window", "2m", "--visibility", "secret", "--format", "json"]),
      talos(["keys", "issue", "quiet", "--actor", actor, "-q"]),
      talos(["keys", "issue", "tabled", "--actor", actor]),
    ]);
    for (const r of [json, quiet, table]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
    }
    const body = JSON.parse(json.stdout);
    expect(body.secret).toMatch(/^ory_ak_v1_\w+$/);
    expect(body.issued_api_key).toMatchObject({
      name: "ci-bot",
      actor_id: actor,
      scopes: ["read", "write"],
      status: "KEY_STATUS_ACTIVE",
      metadata: { team: "ops" },
      ip_restriction: { allowed_cidrs: ["10.0.0.0/8", "2001:db8::/32"] },
      rate_limit_policy: { quota: "7", window: "120s" },
      visibility: "KEY_VISIBILITY_SECRET",
    });
    const days = (Date.parse(body.issued_api_key.expire_time) - Date.parse(body.issued_api_key.create_time)) / 86_400_000;
    expect(days).toBe(30);

    expect(quiet.stdout).toMatch(/^ory_ak_v1_\w+\n$/);
    expect(await isValid(quiet.stdout.trim())).toBe(true);

    const lines = table.stdout.split("\n");
    expect(lines[0]).toMatch(/^KEY_ID\s+NAME\s+ACTOR_ID\s+STATUS\s+SCOPES\s+EXPIRE_TIME$/);
    expect(lines[1]).toMatch(new RegExp(`^[0-9a-f-]{36}\\s+tabled\\s+${actor}\\s+active\\s+-\\s+\\d{4}-`));
    expect(table.stdout).toMatch(/^secret:\s+ory_ak_v1_\w+$/m);
  });

  it("issue --request-id replays the same key without showing the secret again: exit 1 unless --allow-replay", async () => {
    const actor = uniq("idem");
    const rid = randomUUID();
    const first = await okJson(["keys", "issue", "once", "--actor", actor, "--request-id", rid]);
    const keyId = first.issued_api_key.key_id as string;
    // SECRET=$(talos keys issue … -q) must not carry on with an empty secret
    const replay = await talos(["keys", "issue", "once", "--actor", actor, "--request-id", rid, "-q"]);
    expect(replay.code).toBe(1);
    expect(replay.stdout).toBe("");
    expect(replay.stderr).toBe(
      `error: --request-id ${rid} was already used: the server answered with the key issued then (${keyId}), whose secret is shown only once; pass --allow-replay to accept that\n`,
    );
    const [quiet, json] = await Promise.all([
      talos(["keys", "issue", "once", "--actor", actor, "--request-id", rid, "--allow-replay", "-q"]),
      talos(["keys", "issue", "once", "--actor", actor, "--request-id", rid, "--allow-replay", "--format", "json"]),
    ]);
    for (const r of [quiet, json]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe(`note: --request-id ${rid} was already used: the server answered with the key issued then (${keyId}), whose secret is shown only once\n`);
    }
    expect(quiet.stdout).toBe("");
    expect(JSON.parse(json.stdout)).toMatchObject({ secret: "", issued_api_key: { key_id: keyId, name: "once", actor_id: actor } });
    for (const r of [replay, quiet, json]) expect(r.stdout + r.stderr).not.toContain(first.secret);
  });

  it("issued get and list: yaml parses, filters, paging by hand and with --all", async () => {
    const actor = uniq("list");
    const keys = await Promise.all([seed(actor), seed(actor), seed(actor)]);
    const ids = keys.map((k) => k.id).sort();

    const got = parseYaml(await ok(["keys", "issued", "get", keys[0]!.id, "--format", "yaml"]));
    expect(got).toMatchObject({ key_id: keys[0]!.id, actor_id: actor, status: "KEY_STATUS_ACTIVE" });

    const [all, quiet, page1] = await Promise.all([
      okJson(["keys", "issued", "list", "--actor", actor, "--page-size", "1", "--all"]),
      ok(["keys", "issued", "list", "--actor", actor, "--all", "--page-size", "2", "-q"]),
      okJson(["keys", "issued", "list", "--actor", actor, "--page-size", "1"]),
    ]);
    expect(all.issued_api_keys.map((k: any) => k.key_id)).toEqual(ids);
    expect(all.next_page_token).toBe("");
    expect(quiet).toBe(`${ids.join("\n")}\n`);
    expect(page1.issued_api_keys.map((k: any) => k.key_id)).toEqual([ids[0]]);
    expect(page1.next_page_token).not.toBe("");
    const page2 = await okJson(["keys", "issued", "list", "--actor", actor, "--page-size", "1", "--page-token", page1.next_page_token]);
    expect(page2.issued_api_keys.map((k: any) => k.key_id)).toEqual([ids[1]]);

    await ok(["keys", "issued", "revoke", ids[2]!]);
    const [revoked, active] = await Promise.all([
      ok(["keys", "issued", "list", "--actor", actor, "--status", "revoked", "-q"]),
      ok(["keys", "issued", "list", "--actor", actor, "--status", "ACTIVE", "-q"]),
    ]);
    expect(revoked).toBe(`${ids[2]}\n`);
    expect(active).toBe(`${ids[0]}\n${ids[1]}\n`);
  });

  it("issued update writes exactly the fields given; '' clears CIDRs, --rate-limit-quota 0 clears the policy", async () => {
    const actor = uniq("update");
    const { id } = await seed(actor, {
      scopes: ["a", "b"],
      metadata: { m: 1 },
      ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] },
      rate_limit_policy: { quota: 5, window: "60s", unit: "requests" },
    });

    const renamed = await okJson(["keys", "issued", "update", id, "--name", "renamed"]);
    expect(renamed).toMatchObject({ name: "renamed", scopes: ["a", "b"], metadata: { m: 1 }, ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] }, rate_limit_policy: { quota: "5", window: "60s", unit: "requests" } });

    const cleared = await okJson(["keys", "issued", "update", id, "--allowed-cidrs", "", "--rate-limit-window", "90s", "--scopes", "c"]);
    expect(cleared).toMatchObject({ name: "renamed", scopes: ["c"], metadata: { m: 1 }, ip_restriction: null, rate_limit_policy: { quota: "5", window: "90s", unit: "requests" } });

    const noPolicy = await okJson(["keys", "issued", "update", id, "--rate-limit-quota", "0", "--metadata", ""]);
    expect(noPolicy).toMatchObject({ name: "renamed", scopes: ["c"], metadata: null, rate_limit_policy: null });

    const [nothing, both] = await Promise.all([
      talos(["keys", "issued", "update", id]),
      talos(["keys", "issued", "update", id, "--rate-limit-quota", "0", "--rate-limit-window", "60s"]),
    ]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/^error: nothing to update/);
    expect(both.code).toBe(2);
  });

  it("issued rotate prints the new secret; the old key is revoked as superseded and cannot be rotated again", async () => {
    const actor = uniq("rotate");
    const old = await seed(actor, { scopes: ["read"] });
    const rotated = await okJson(["keys", "issued", "rotate", old.id, "--name", "next"]);
    expect(rotated.issued_api_key).toMatchObject({ name: "next", actor_id: actor, scopes: ["read"], status: "KEY_STATUS_ACTIVE" });
    expect(rotated.old_issued_api_key).toMatchObject({ key_id: old.id, status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_SUPERSEDED" });

    expect(await isValid(rotated.secret)).toBe(true);
    expect(await isValid(old.secret)).toBe(false);
    const [again, quiet] = await Promise.all([
      talos(["keys", "issued", "rotate", old.id]),
      talos(["keys", "issued", "rotate", rotated.issued_api_key.key_id, "-q", "--scopes", ""]),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("error: cannot rotate a non-active key\n");
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).toMatch(/^ory_ak_v1_\w+\n$/);
    expect(quiet.stderr).toBe("");
    expect(await isValid(quiet.stdout.trim())).toBe(true);
  });

  it("issued revoke stores the reason; a second revoke is an API error (exit 1, one line)", async () => {
    const { id } = await seed(uniq("revoke"));
    const r = await talos(["keys", "issued", "revoke", id, "--reason", "key_compromise"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`revoked ${id}\n`);
    expect(await state(`${ISSUED}/${id}`)).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_KEY_COMPROMISE" });
    const again = await talos(["keys", "issued", "revoke", id]);
    expect(again).toMatchObject({ code: 1, stdout: "", stderr: "error: key is already revoked\n" });
  });

  it("imported import with --raw-key and from stdin; get, list, update, revoke, delete", async () => {
    const actor = uniq("import");
    const raw1 = `legacy-${randomUUID()}`;
    const raw2 = `legacy-${randomUUID()}`;
    const [a, b] = await Promise.all([
      okJson(["keys", "imported", "import", "one", "--actor", actor, "--raw-key", raw1, "--scopes", "x"]),
      okJson(["keys", "imported", "import", "two", "--actor", actor, "--raw-key", "-"], `${raw2}\n`),
    ]);
    expect(a).toMatchObject({ key_id: importedKeyId(raw1), name: "one", actor_id: actor, scopes: ["x"] });
    // the trailing newline of the piped input is not part of the key
    expect(b.key_id).toBe(importedKeyId(raw2));
    expect(await isValid(raw2)).toBe(true);

    const [got, listed] = await Promise.all([
      okJson(["keys", "imported", "get", a.key_id]),
      ok(["keys", "imported", "list", "--actor", actor, "-q"]),
    ]);
    expect(got.key_id).toBe(a.key_id);
    expect(listed.trim().split("\n").sort()).toEqual([a.key_id, b.key_id].sort());

    const updated = await okJson(["keys", "imported", "update", a.key_id, "--scopes", "", "--allowed-cidrs", "192.168.0.0/16"]);
    expect(updated).toMatchObject({ name: "one", scopes: [], ip_restriction: { allowed_cidrs: ["192.168.0.0/16"] } });

    await ok(["keys", "imported", "revoke", a.key_id, "--reason", "privilege_withdrawn", "--description", "left the team"]);
    expect(await state(`${IMPORTED}/${a.key_id}`)).toMatchObject({
      status: "KEY_STATUS_REVOKED",
      revocation_reason: "REVOCATION_REASON_PRIVILEGE_WITHDRAWN",
      revocation_description: "left the team",
    });

    expect(await ok(["keys", "imported", "delete", a.key_id])).toBe(`deleted ${a.key_id}\n`);
    expect(await talos(["keys", "imported", "get", a.key_id])).toMatchObject({ code: 1, stderr: "error: API key not found\n" });
    // gone for good: the same raw key imports again
    expect(await ok(["keys", "imported", "import", "one", "--actor", actor, "--raw-key", raw1, "-q"])).toBe(`${a.key_id}\n`);
  });

  it("imported batch-import from a file and from stdin; a failed item means exit 1", async () => {
    const actor = uniq("batch");
    const raws = [0, 1, 2].map(() => `batch-${randomUUID()}`);
    const file = join(tempDir(), "keys.json");
    writeFileSync(file, JSON.stringify(raws.slice(0, 2).map((raw_key, i) => ({ raw_key, name: `b${i}`, actor_id: actor }))));

    const fromFile = await okJson(["keys", "imported", "batch-import", "--file", file]);
    expect(fromFile).toMatchObject({ success_count: 2, failure_count: 0 });
    expect(fromFile.results.map((r: any) => r.imported_api_key.key_id)).toEqual(raws.slice(0, 2).map(importedKeyId));

    const stdin = JSON.stringify([{ raw_key: raws[2], name: "b2", actor_id: actor }, { raw_key: raws[0], name: "dup", actor_id: actor }]);
    const mixed = await talos(["keys", "imported", "batch-import", "--file", "-", "-q"], stdin);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toBe(`${importedKeyId(raws[2]!)}\n`);
    expect(mixed.stderr).toBe("error: 1 of 2 imports failed; failed rows in batch-import.failed.jsonl\n");

    const [notArray, missing] = await Promise.all([
      talos(["keys", "imported", "batch-import", "--file", "-"], '{"raw_key":"x"}'),
      talos(["keys", "imported", "batch-import", "--file", join(tempDir(), "nope.json")]),
    ]);
    expect(notArray.code).toBe(1);
    expect(notArray.stderr).toBe("error: stdin: expected a JSON array of import requests\n");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: ENOENT/);
  });

  it("keys revoke (alias) dispatches on the id shape and accepts full enum names", async () => {
    const actor = uniq("alias");
    const iss = await seed(actor);
    const imp = (await fetchJson(server.apiUrl + IMPORTED, { body: { raw_key: `alias-${randomUUID()}`, name: "i", actor_id: actor } })).body;
    await Promise.all([
      ok(["keys", "revoke", iss.id, "--reason", "REVOCATION_REASON_AFFILIATION_CHANGED"]),
      ok(["keys", "revoke", imp.key_id, "--reason", "superseded", "-q"]),
    ]);
    const [gi, gm, unknown] = await Promise.all([state(`${ISSUED}/${iss.id}`), state(`${IMPORTED}/${imp.key_id}`), talos(["keys", "revoke", "not-a-key-id"])]);
    expect(gi).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_AFFILIATION_CHANGED" });
    expect(gm).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_SUPERSEDED" });
    expect(unknown).toMatchObject({ code: 1, stdout: "", stderr: "error: API key not found\n" });
  });

  it("self-revoke with the secret (argument or stdin); privilege_withdrawn is refused by the server", async () => {
    const actor = uniq("self");
    const [a, b] = await Promise.all([seed(actor), seed(actor)]);
    const [r1, r2, refused] = await Promise.all([
      talos(["keys", "self-revoke", a.secret, "--reason", "key_compromise"]),
      talos(["keys", "self-revoke", "-", "--format", "json"], b.secret),
      talos(["keys", "self-revoke", a.secret, "--reason", "privilege_withdrawn"]),
    ]);
    expect(r1).toMatchObject({ code: 0, stdout: "revoked\n", stderr: "" });
    expect(r2).toMatchObject({ code: 0, stdout: "{}\n" });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe("error: PRIVILEGE_WITHDRAWN is not allowed for self-revocation\n");
    expect(await state(`${ISSUED}/${a.id}`)).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_KEY_COMPROMISE" });
    expect(await isValid(b.secret)).toBe(false);
  });

  it("verify: exit 0 only when valid; batch-verify keeps the order and exits 1 when any is invalid", async () => {
    const actor = uniq("verify");
    const { id, secret } = await seed(actor, { scopes: ["s1"] });
    const [valid, quiet, invalid, batch, batchOk] = await Promise.all([
      talos(["keys", "verify", secret, "--no-cache", "--no-store", "--format", "json"]),
      talos(["keys", "verify", secret, "-q"]),
      talos(["keys", "verify", "definitely-not-a-key", "--no-cache"]),
      talos(["keys", "batch-verify", secret, "nope-1", "--format", "json"]),
      talos(["keys", "batch-verify", "-", "-q"], `${secret}\n${secret}\n`),
    ]);
    expect(valid.code, valid.stderr).toBe(0);
    expect(JSON.parse(valid.stdout)).toMatchObject({ is_valid: true, key_id: id, actor_id: actor, scopes: ["s1"] });
    expect(quiet).toMatchObject({ code: 0, stdout: `${id}\n` });
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toMatch(/^VALID\s+KEY_ID/);
    expect(invalid.stderr).toBe("error: credential is not valid: API key not found\n");
    expect(batch.code).toBe(1);
    expect(JSON.parse(batch.stdout).results.map((r: any) => [r.is_valid, r.key_id, r.error_code])).toEqual([
      [true, id, "VERIFICATION_ERROR_UNSPECIFIED"],
      [false, "", "VERIFICATION_ERROR_NOT_FOUND"],
    ]);
    expect(batch.stderr).toBe("error: 1 of 2 credentials are not valid\n");
    expect(batchOk).toMatchObject({ code: 0, stdout: `${id}\n${id}\n` });
  });

  it("derive-token mints JWTs and macaroons that verify; errors from the server exit 1", async () => {
    const { id, secret } = await seed(uniq("derive"), { scopes: ["read", "write"] });
    const [jwt, mac, quiet, badScope] = await Promise.all([
      okJson(["keys", "derive-token", secret, "--ttl", "10m", "--scopes", "read", "--claims", '{"tenant":"t1"}']),
      okJson(["keys", "derive-token", secret, "--algorithm", "macaroon"]),
      talos(["keys", "derive-token", "-", "-q"], secret),
      talos(["keys", "derive-token", secret, "--scopes", "admin"]),
    ]);
    expect(jwt.token.token).toMatch(/^eyJ/);
    expect(jwt.token.scopes).toEqual(["read"]);
    expect(jwt.token.claims).toMatchObject({ sub: id, tenant: "t1", scp: ["read"] });
    expect(jwt.token.claims.exp - jwt.token.claims.iat).toBe(600);
    expect(JSON.parse(Buffer.from(jwt.token.token.split(".")[0], "base64url").toString()).kid).toBe(kid);
    expect(mac.token.token).toMatch(/^mc_v1_/);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toBe("error: requested scope 'admin' not available in parent key\n");

    expect(await Promise.all([jwt.token.token, mac.token.token, quiet.stdout.trim()].map(isValid))).toEqual([true, true, true]);
  });

  it("jwk get prints the served key set (JSON by default), a table, or the kids", async () => {
    const [json, table, quiet] = await Promise.all([
      talos(["jwk", "get"]),
      talos(["jwk", "get", "--format", "table"]),
      talos(["jwk", "get", "-q"]),
    ]);
    expect(json.code, json.stderr).toBe(0);
    const set = JSON.parse(json.stdout);
    expect(set.keys).toHaveLength(1);
    expect(set.keys[0]).toMatchObject({ kid, kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
    expect(set.keys[0].d).toBeUndefined();
    expect(table.stdout).toMatch(new RegExp(`^KID\\s+KTY\\s+ALG\\s+USE\\s+CRV\\n${kid}\\s+OKP\\s+EdDSA\\s+sig\\s+Ed25519\\n$`));
    expect(quiet.stdout).toBe(`${kid}\n`);
  });

  it("usage errors exit 2 before any request", async () => {
    const cases = [
      ["keys", "issue", "--format", "xml"],
      ["keys", "issue", "--metadata", "[1,2]"],
      ["keys", "issue", "--ttl", "forever"],
      ["keys", "issue", "--rate-limit-window", "60s"],
      ["keys", "issue", "-H", "Authorization Bearer secret-token"],
      ["keys", "revoke", "x", "--reason", "bored"],
      ["keys", "imported", "import", "n"],
      ["keys", "issued", "list", "--status", "sleeping"],
      ["keys", "verify", "a", "b"],
      ["keys"],
    ];
    // an endpoint nothing listens on: a request would be exit 1, not 2
    const results = await Promise.all(cases.map((args) => talos(args, undefined, "http://127.0.0.1:9")));
    for (const [i, r] of results.entries()) {
      expect(r.code, `${cases[i]!.join(" ")}\n${r.stderr}`).toBe(2);
      expect(r.stdout).toBe("");
    }
    // a malformed -H may hold a proxy credential: the error names it without echoing it
    const badHeader = results[cases.findIndex((c) => c.includes("-H"))]!;
    expect(badHeader.stderr).toBe('error: -H (#1): expected "Name: value"\n');
    const badEndpoint = await runTalos(["keys", "verify", "x", "-e", "ftp://example.com"]);
    expect(badEndpoint.code).toBe(2);
    expect(badEndpoint.stderr).toMatch(/^error: option '-e, --endpoint <url>' argument 'ftp:\/\/example.com' is invalid/);
  });

  it("an unreachable server is a runtime error: exit 1, one line", async () => {
    const r = await talos(["keys", "issued", "list"], undefined, "http://127.0.0.1:9");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:9: \S.*\n$/);
  });

  describe("against a recording HTTP server", () => {
    let fake: Server;
    let url: string;
    const seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[] = [];
    let reply: { status: number; type: string; body: string } = { status: 200, type: "application/json", body: "{}" };

    beforeAll(async () => {
      fake = createServer((req, res) => {
        let body = "";
        req.setEncoding("utf8").on("data", (d: string) => (body += d));
        req.on("end", () => {
          seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
          res.writeHead(reply.status, { "content-type": reply.type }).end(reply.body);
        });
      });
      await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}/prefix/`;
    });
    afterAll(() => new Promise<void>((resolve) => fake.close(() => resolve())));

    it("-H headers pass through; --no-cache/--no-store become Cache-Control; the endpoint's path is a prefix", async () => {
      seen.length = 0;
      reply = { status: 200, type: "application/json", body: JSON.stringify({ keys: [] }) };
      const jwk = await talos(["jwk", "get", "-H", "X-Request-ID: abc", "-H", "Authorization: Bearer proxy-token"], undefined, url);
      expect(jwk.code, jwk.stderr).toBe(0);
      reply = { status: 200, type: "application/json", body: JSON.stringify({ is_valid: true, key_id: "k", scopes: [], status: "KEY_STATUS_ACTIVE" }) };
      const v = await talos(["keys", "verify", "cred", "--no-cache", "--no-store", "-H", "X-Tenant: t1"], undefined, url);
      expect(v.code, v.stderr).toBe(0);

      expect(seen).toHaveLength(2);
      expect(seen[0]).toMatchObject({ method: "GET", url: "/prefix/v2alpha1/derivedKeys/jwks.json" });
      expect(seen[0]!.headers).toMatchObject({ "x-request-id": "abc", authorization: "Bearer proxy-token" });
      expect(seen[1]).toMatchObject({ method: "POST", url: "/prefix/v2alpha1/admin/apiKeys:verify" });
      expect(seen[1]!.headers).toMatchObject({ "x-tenant": "t1", "cache-control": "no-cache, no-store", "content-type": "application/json" });
      expect(JSON.parse(seen[1]!.body)).toEqual({ credential: "cred" });
    });

    it("update sends the mask built from the flags; list sends the filter", async () => {
      seen.length = 0;
      reply = { status: 200, type: "application/json", body: JSON.stringify({ key_id: "k", scopes: [], status: "KEY_STATUS_ACTIVE" }) };
      expect((await talos(["keys", "issued", "update", "k1", "--name", "n", "--allowed-cidrs", "", "--rate-limit-quota", "0", "--metadata", ""], undefined, url)).code).toBe(0);
      reply = { status: 200, type: "application/json", body: JSON.stringify({ imported_api_keys: [], next_page_token: "" }) };
      expect((await talos(["keys", "imported", "list", "--actor", 'a "q"', "--status", "expired", "--page-size", "5"], undefined, url)).code).toBe(0);

      const patch = new URL(seen[0]!.url, "http://x");
      expect(seen[0]!.method).toBe("PATCH");
      expect(patch.pathname).toBe("/prefix/v2alpha1/admin/issuedApiKeys/k1");
      expect(patch.searchParams.get("update_mask")).toBe("name,metadata,ip_restriction,rate_limit_policy");
      expect(JSON.parse(seen[0]!.body)).toEqual({ name: "n" });
      const list = new URL(seen[1]!.url, "http://x");
      expect(list.searchParams.get("filter")).toBe('actor_id="a \\"q\\"" AND status=KEY_STATUS_EXPIRED');
      expect(list.searchParams.get("page_size")).toBe("5");
    });

    it("error answers become one line: the envelope's message, or the HTTP status", async () => {
      reply = { status: 403, type: "application/json", body: JSON.stringify({ error: { code: 403, message: "denied\nby proxy", status: "PERMISSION_DENIED" } }) };
      const envelope = await talos(["keys", "issued", "get", "k"], undefined, url);
      reply = { status: 502, type: "text/html", body: "<html>bad gateway</html>" };
      const html = await talos(["keys", "issued", "get", "k"], undefined, url);
      expect(envelope).toMatchObject({ code: 1, stdout: "", stderr: "error: denied by proxy\n" });
      expect(html).toMatchObject({ code: 1, stdout: "", stderr: "error: HTTP 502 Bad Gateway\n" });
    });
  });
});
