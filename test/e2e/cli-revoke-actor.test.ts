/**
 * `talos keys revoke --actor <id>` (docs/leaked-keys.md#bulk-revoke-by-owner) as a real child process
 * against a real `talos serve`: more keys than one :batchRevoke call takes, so it must follow the
 * continuation; other actors untouched.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2E_TIMEOUT_MS, TALOS_BIN, fetchJson, runTalos, startTalos, stopAllTalos, tempDir, type TalosProcess } from "../support/process.js";

afterAll(stopAllTalos);

const ISSUED = "/v2alpha1/admin/issuedApiKeys";
const IMPORTED = "/v2alpha1/admin/importedApiKeys";

describe("talos keys revoke --actor", () => {
  let server: TalosProcess;
  beforeAll(async () => {
    server = await startTalos({
      args: ["serve"],
      env: { TALOS_DB_DSN: "memory", TALOS_SECRETS_HMAC_CURRENT: `cli-actor-hmac-secret-${randomUUID()}`, TALOS_CREDENTIALS_ISSUER: "https://cli-actor.talos.test" },
    });
  }, 180_000);
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  }, 60_000);

  const talos = (args: string[]) => runTalos([...args, "-e", server.apiUrl]);
  const issue = async (actor: string) => {
    const r = await fetchJson(server.apiUrl + ISSUED, { body: { name: "k", actor_id: actor } });
    expect(r.status, r.text).toBe(201);
    return r.body.issued_api_key.key_id as string;
  };
  const active = async (kind: "issued" | "imported", actor: string) => {
    const filter = encodeURIComponent(`actor_id="${actor}" AND status=KEY_STATUS_ACTIVE`);
    const r = await fetchJson(`${server.apiUrl}/v2alpha1/admin/${kind}ApiKeys?page_size=1000&filter=${filter}`);
    return (r.body[`${kind}_api_keys`] as unknown[]).length;
  };

  it("revokes every active key of the actor across several calls and prints the count", async () => {
    const actor = `leaver-${randomUUID().slice(0, 8)}`;
    const other = `stays-${randomUUID().slice(0, 8)}`;
    const requests = Array.from({ length: 1000 }, (_, i) => ({ raw_key: `cli-actor-${actor}-${i}`, name: "k", actor_id: actor }));
    const batch = await fetchJson(`${server.apiUrl}${IMPORTED}:batchCreate`, { body: { requests } });
    expect(batch.status, batch.text).toBe(200);
    for (let i = 0; i < 3; i++) await issue(actor);
    const kept = await issue(other);

    const r = await talos(["keys", "revoke", "--actor", actor, "--reason", "affiliation_changed", "--format", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ revoked_count: 1003 });
    expect(await active("issued", actor)).toBe(0);
    expect(await active("imported", actor)).toBe(0);
    expect((await fetchJson(`${server.apiUrl}${ISSUED}/${kept}`)).body.status).toBe("KEY_STATUS_ACTIVE");

    const again = await talos(["keys", "revoke", "--actor", actor]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`revoked 0 keys of ${actor}\n`);
  });

  it("--kind limits it to one kind; usage mistakes exit 2", async () => {
    const actor = `kind-${randomUUID().slice(0, 8)}`;
    const id = await issue(actor);
    const imp = await fetchJson(server.apiUrl + IMPORTED, { body: { raw_key: `cli-kind-${actor}`, name: "k", actor_id: actor } });
    expect(imp.status).toBe(201);
    const r = await talos(["keys", "revoke", "--actor", actor, "--kind", "imported", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("1\n");
    expect((await fetchJson(`${server.apiUrl}${ISSUED}/${id}`)).body.status).toBe("KEY_STATUS_ACTIVE");

    for (const args of [["keys", "revoke"], ["keys", "revoke", id, "--actor", actor], ["keys", "revoke", id, "--kind", "issued"], ["keys", "revoke", "--actor", actor, "--kind", "derived"]]) {
      const bad = await talos(args);
      expect(bad.code, args.join(" ")).toBe(2);
      expect(bad.stderr).toMatch(/^error: /);
    }
    // an API error (description without privilege_withdrawn): exit 1, one line
    const api = await talos(["keys", "revoke", "--actor", actor, "--description", "x"]);
    expect(api.code).toBe(1);
    expect(api.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("on a terminal (a pty from util-linux `script`) a progress bar of revoked keys goes to stderr", async (ctx) => {
    const hasScript = await new Promise<boolean>((r) => execFile("script", ["--version"], (e) => r(!e)));
    if (!hasScript) {
      console.warn("\n!!! SKIPPED: progress bar test — needs util-linux `script` for a pseudo-terminal.\n");
      ctx.skip();
    }
    const actor = `tty-${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 3; i++) await issue(actor);
    const cmd = [process.execPath, TALOS_BIN, "keys", "revoke", "--actor", actor, "-e", server.apiUrl].map((a) => `'${a}'`).join(" ");
    const out = await new Promise<{ code: number; text: string }>((resolve) =>
      execFile("script", ["-qec", cmd, "/dev/null"], { cwd: tempDir(), timeout: E2E_TIMEOUT_MS }, (e, stdout) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, text: stdout })),
    );
    expect(out.code, out.text).toBe(0);
    expect(out.text).toContain("3/3 keys revoked");
    expect(out.text).toContain(`revoked 3 keys of ${actor}`);
  });
});
