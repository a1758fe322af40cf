import { ConfigError, dsnKind, loadConfig, openStore } from "@talos/core";
import { processEnv } from "../env.js";

export interface MigrateOptions {
  config?: string;
  database?: string;
}

/** DSN order (docs/cli.md#server-commands): flag, TALOS_DB_DSN, DSN, config file. */
export function resolveDsn(opts: MigrateOptions): string {
  if (opts.database) return opts.database;
  const env = processEnv();
  const fromEnv = env.TALOS_DB_DSN || env.DSN;
  if (fromEnv) return fromEnv;
  if (opts.config) {
    try {
      return loadConfig({ file: opts.config, env }).config.db.dsn;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const dsnIssue = e.issues.find((i) => i.startsWith("db.dsn"));
      if (dsnIssue) throw new Error(dsnIssue);
      // Other settings (secrets, issuer) are not needed to migrate: read the raw dsn.
      return loadConfig({ file: opts.config, env, overrides: {}, dev: { dir: ".talos" } }).config.db.dsn;
    }
  }
  throw new Error("no database: pass --database <dsn> or set TALOS_DB_DSN");
}

export async function migrateCommand(action: "up" | "status", opts: MigrateOptions): Promise<number> {
  const dsn = resolveDsn(opts);
  dsnKind(dsn);
  const store = await openStore(dsn);
  try {
    if (action === "up") {
      const before = (await store.migrationStatus()).filter((m) => !m.appliedAt).length;
      await store.migrate();
      process.stdout.write(before ? `applied ${before} migration(s)\n` : "database schema is up to date\n");
    } else {
      const rows = await store.migrationStatus();
      rows.forEach((m, i) => {
        process.stdout.write(`${String(i + 1).padStart(4, "0")}  ${m.name.padEnd(40)}  ${m.appliedAt ? m.appliedAt.toISOString() : "pending"}\n`);
      });
    }
    return 0;
  } finally {
    await store.close();
  }
}
