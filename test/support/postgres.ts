import { randomBytes } from "node:crypto";
import postgres from "postgres";

/** The PostgreSQL server tests use, or null (then PostgreSQL-only tests say loudly that they skip). */
export const TEST_DSN = process.env.TALOS_TEST_DSN || null;

export function warnSkip(what: string): void {
  console.warn(`\n!!! SKIPPED: ${what} — set TALOS_TEST_DSN=postgres://... to run it (CI does).\n`);
}

/** Creates an empty database on the test server (or `adminDsn`'s, for the benches); returns its DSN and a drop function. */
export async function freshDatabase(prefix = "talos_t", adminDsn: string | null = TEST_DSN): Promise<{ dsn: string; drop: () => Promise<void> }> {
  if (!adminDsn) throw new Error("TALOS_TEST_DSN is not set");
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = postgres(adminDsn, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminDsn);
  url.pathname = `/${name}`;
  return {
    dsn: url.toString(),
    async drop() {
      const a = postgres(adminDsn, { max: 1, onnotice: () => {} });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
