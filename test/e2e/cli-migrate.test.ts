/**
 * `talos migrate down [--steps N]` and `talos migrate force <version>` (docs/cli.md#server-commands,
 * docs/migrations.md) as real child processes: round trips on a fresh PostgreSQL database, and the
 * refusal on the embedded database.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { E2E_TIMEOUT_MS, runTalos, tempDir, type RunResult } from "../support/process.js";

/** The shipped migrations, oldest first. */
const TAGS = (JSON.parse(readFileSync(new URL("../../drizzle/meta/_journal.json", import.meta.url), "utf8")) as { entries: { tag: string }[] }).entries.map((e) => e.tag);
const N = TAGS.length;
const NEWEST = TAGS.at(-1)!;

async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r: RunResult = await runTalos(args, env);
  expect(r.code, `talos ${args.join(" ")}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

describe("migrate down|force on the embedded database", () => {
  it("refuses with a clear message, memory and pglite:// alike", { timeout: E2E_TIMEOUT_MS }, async () => {
    const dir = join(tempDir(), "db");
    const [mem, file, force] = await Promise.all([
      runTalos(["migrate", "down", "--database", "memory"]),
      runTalos(["migrate", "down", "--steps", "2"], { TALOS_DB_DSN: `pglite://${dir}` }),
      runTalos(["migrate", "force", "0", "--database", `pglite://${dir}`]),
    ]);
    expect(mem.code).toBe(1);
    expect(mem.stderr).toBe("error: migrate down works on PostgreSQL only: the embedded database migrates itself at start-up\n");
    expect(file.code).toBe(1);
    expect(file.stderr).toContain("migrate down works on PostgreSQL only");
    expect(file.stderr).toContain("remove its data directory");
    expect(force.code).toBe(1);
    expect(force.stderr).toContain("migrate force works on PostgreSQL only");
  });

  it("rejects a bad --steps as a usage error (exit 2)", { timeout: E2E_TIMEOUT_MS }, async () => {
    const runs = await Promise.all(["0", "two", "1.5"].map((steps) => runTalos(["migrate", "down", "--steps", steps, "--database", "memory"])));
    for (const r of runs) {
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("error: --steps must be a positive integer\n");
    }
  });
});

if (TEST_DSN) {
  describe("migrate down|force on PostgreSQL", () => {
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    let sql: postgres.Sql;
    const env = () => ({ TALOS_DB_DSN: db.dsn });
    const hasKeysTable = async () => (await sql`select to_regclass('public.api_keys') is not null as present`)[0]!.present as boolean;
    const history = async () => (await sql`select created_at::text from drizzle.__drizzle_migrations order by created_at`).map((r) => r.created_at as string);

    beforeAll(async () => {
      db = await freshDatabase("talos_cli_migrate");
      sql = postgres(db.dsn, { max: 1, onnotice: () => {} });
    });
    afterAll(async () => {
      await sql?.end();
      await db?.drop();
    });

    it("down rolls back, status says pending, up re-applies; force rewrites only the history", { timeout: E2E_TIMEOUT_MS * 2 }, async () => {
      expect(await ok(["migrate", "up"], env())).toBe(`applied ${N} migration(s)\n`);
      expect(await hasKeysTable()).toBe(true);
      await sql`insert into networks (nid) values ('11111111-1111-1111-1111-111111111111')`;

      // the default is one step: the newest migration only
      expect(await ok(["migrate", "down", "--database", db.dsn])).toBe(`rolled back ${NEWEST}\n`);
      expect(await history()).toHaveLength(N - 1);
      if (N > 1) expect(await ok(["migrate", "down", "--steps", String(N - 1)], env())).toBe(`${[...TAGS].reverse().slice(1).map((t) => `rolled back ${t}\n`).join("")}`);
      expect(await hasKeysTable()).toBe(false);
      expect(await history()).toEqual([]);
      const pendingLines = TAGS.map((t, i) => `${String(i + 1).padStart(4, "0")} {2}${t} +pending\n`).join("");
      expect(await ok(["migrate", "status"], env())).toMatch(new RegExp(`^${pendingLines}$`));
      expect(await ok(["migrate", "down", "--steps", "3"], env())).toBe("no migration is applied; nothing to roll back\n");

      expect(await ok(["migrate", "up"], env())).toBe(`applied ${N} migration(s)\n`);
      expect(await hasKeysTable()).toBe(true);
      expect(await ok(["migrate", "status"], env())).toMatch(new RegExp(`^0001 {2}${TAGS[0]} +\\d{4}-\\d\\d-\\d\\dT`));

      // force runs no SQL: the tables stay, only the recorded history changes
      expect(await ok(["migrate", "force", "0"], env())).toBe("recorded no migration as applied\n");
      expect(await hasKeysTable()).toBe(true);
      expect(await ok(["migrate", "status"], env())).toMatch(/pending/);
      expect(await ok(["migrate", "force", NEWEST], env())).toBe(`recorded migrations up to ${NEWEST} as applied\n`);
      expect(await history()).toHaveLength(N);
      expect(await ok(["migrate", "up"], env())).toBe("database schema is up to date\n");

      const bad = await runTalos(["migrate", "force", "7"], env());
      expect(bad.code).toBe(1);
      expect(bad.stderr).toBe(`error: unknown version "7": use 0 to ${N} (as "talos migrate status" numbers them) or a migration name\n`);
      expect(await history()).toHaveLength(N);
    });

    it("serve refuses a rolled-back schema until migrate up", { timeout: E2E_TIMEOUT_MS * 2 }, async () => {
      await ok(["migrate", "down", "--steps", String(N)], env());
      const serve = await runTalos(["serve", "admin"], { ...env(), TALOS_SECRETS_HMAC_CURRENT: "x".repeat(40), TALOS_CREDENTIALS_ISSUER: "http://localhost" });
      expect(serve.code).not.toBe(0);
      expect(serve.stderr).toContain('database schema is behind: run "talos migrate up"');
      await ok(["migrate", "up"], env());
    });
  });
} else {
  warnSkip("test/e2e/cli-migrate.test.ts: migrate down|force round trips on PostgreSQL");
}
