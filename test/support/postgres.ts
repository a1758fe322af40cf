import { randomBytes } from "node:crypto";
import postgres from "postgres";

/** The PostgreSQL server tests use, or null (then PostgreSQL-only tests say loudly that they skip). */
export const TEST_DSN = process.env.TALOS_TEST_DSN || null;

export function warnSkip(what: string): void {
  console.warn(`\n!!! SKIPPED: ${what} — set TALOS_TEST_DSN=postgres://... to run it (CI does).\n`);
}

/** Creates an empty database on the test server; returns its DSN and a drop function. */
export async function freshDatabase(prefix = "talos_t"): Promise<{ dsn: string; drop: () => Promise<void> }> {
  if (!TEST_DSN) throw new Error("TALOS_TEST_DSN is not set");
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = postgres(TEST_DSN, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DSN);
  url.pathname = `/${name}`;
  return {
    dsn: url.toString(),
    async drop() {
      const a = postgres(TEST_DSN!, { max: 1, onnotice: () => {} });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
