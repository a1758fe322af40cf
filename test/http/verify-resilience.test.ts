import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { startTestServer, type TestServer } from "../support/harness.js";

/** After the pool's connections are killed (a database restart), verification must not fail. */
describe.skipIf(!TEST_DSN)("verification after PostgreSQL connections were terminated", () => {
  let s: TestServer;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase();
    s = await startTestServer({ overrides: { "db.dsn": db.dsn } });
  });
  afterAll(async () => {
    await s?.close();
    await db?.drop();
  });

  it("retries a read once on a fresh connection instead of answering INTERNAL", async () => {
    const issued = await s.request("POST", "/v2alpha1/admin/issuedApiKeys", { actor_id: "resilience" });
    const secret = issued.body.secret as string;
    const name = new URL(db.dsn).pathname.slice(1);
    for (let round = 0; round < 3; round++) {
      // warm every pooled connection, then kill them all
      await Promise.all(
        Array.from({ length: 10 }, () => s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: secret }, { "Cache-Control": "no-cache" })),
      );
      const admin = postgres(TEST_DSN!, { max: 1, onnotice: () => {} });
      const killed = await admin`select pg_terminate_backend(pid) as ok from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid() and application_name = 'talos' and query not ilike 'listen%'`;
      await admin.end();
      expect(killed.length).toBeGreaterThan(0);
      const r = await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: secret }, { "Cache-Control": "no-cache" });
      expect(r.body.error_code).toBe("VERIFICATION_ERROR_UNSPECIFIED");
      expect(r.body.is_valid).toBe(true);
    }
  });
});

if (!TEST_DSN) warnSkip("verification resilience to killed PostgreSQL connections");
