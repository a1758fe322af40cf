import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { pgBinDir, privatePostgres } from "../support/faults.js";
import { ISSUED, VERIFY, expectEnvelope, issue, verify } from "../support/http-expect.js";

/**
 * PostgreSQL goes away and comes back: requests fail with 503 UNAVAILABLE, /health/ready says 503,
 * and the server recovers without a restart. The shared PostgreSQL is never stopped: a throwaway
 * cluster is started on its own port (initdb + pg_ctl). Where the server binaries are missing, the
 * fallback cuts one fresh database off the shared server (no new connections, backends terminated).
 */

interface Outage {
  how: string;
  dsn: string;
  down(): Promise<void>;
  up(): Promise<void>;
  cleanup(): Promise<void>;
}

/** A private cluster (test/support/faults.ts) stopped and started on its own port. */
async function throwawayCluster(bin: string): Promise<Outage> {
  const pg = await privatePostgres(bin);
  return { how: `throwaway cluster on port ${pg.port}`, dsn: pg.dsn, down: pg.stop, up: pg.start, cleanup: pg.cleanup };
}

async function isolatedDatabase(): Promise<Outage> {
  const fresh = await freshDatabase("talos_outage");
  const name = new URL(fresh.dsn).pathname.slice(1);
  const admin = postgres(TEST_DSN!, { max: 1, onnotice: () => {} });
  return {
    how: `database ${name} cut off on the shared server`,
    dsn: fresh.dsn,
    async down() {
      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
    },
    async up() {
      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    },
    async cleanup() {
      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`).catch(() => {});
      await admin.end();
      await fresh.drop();
    },
  };
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

if (!TEST_DSN) warnSkip("PostgreSQL outage test");

describe.skipIf(!TEST_DSN)("PostgreSQL outage", () => {
  let outage: Outage | undefined;
  let s: TestServer | undefined;

  beforeAll(async () => {
    const bin = pgBinDir();
    outage = bin ? await throwawayCluster(bin) : await isolatedDatabase();
    if (!bin) console.warn(`\n!!! PostgreSQL server binaries not found: the outage test uses the fallback (${outage.how}).\n`);
    s = await startTestServer({ overrides: { "db.dsn": outage.dsn } });
  });
  afterAll(async () => {
    try {
      await s?.close();
    } finally {
      await outage?.cleanup();
    }
  });

  it("answers 503 UNAVAILABLE while the database is down and recovers without a restart", async () => {
    const srv = s!;
    const before = await issue(srv, { name: "before the outage" });
    expect((await srv.request("GET", "/health/ready")).status).toBe(200);
    expect((await verify(srv, before.secret)).body.is_valid).toBe(true); // now cached

    await outage!.down();
    try {
      const ready = await eventually(() => srv.request("GET", "/health/ready"), (r) => r.status === 503);
      expectEnvelope(ready, 503, "UNAVAILABLE", "SERVICE_UNAVAILABLE");
      expect((await srv.request("GET", "/health/alive")).status).toBe(200);

      for (const [method, path, body] of [
        ["POST", ISSUED, { name: "during" }],
        ["GET", `${ISSUED}/${before.key.key_id}`, undefined],
        ["GET", ISSUED, undefined],
        ["PATCH", `${ISSUED}/${before.key.key_id}`, { name: "x" }],
        ["POST", `${ISSUED}/${before.key.key_id}:revoke`, {}],
      ] as const) {
        const res = await srv.request(method, path, body);
        expectEnvelope(res, 503, "UNAVAILABLE", "SERVICE_UNAVAILABLE");
        expect(res.text).not.toMatch(/postgres|ECONN|127\.0\.0\.1/i);
      }
      // verification is always 200: storage failure is VERIFICATION_ERROR_INTERNAL ...
      const fresh = await srv.request("POST", VERIFY, { credential: before.secret }, { "Cache-Control": "no-cache" });
      expect(fresh.status).toBe(200);
      expect(fresh.body).toMatchObject({ is_valid: false, error_code: "VERIFICATION_ERROR_INTERNAL", error_message: "An internal server error occurred.", key_id: "" });
      // ... while a cached record still answers
      const cached = await verify(srv, before.secret);
      expect(cached.headers.get("ory-talos-cache")).toBe("HIT");
      expect(cached.body.is_valid).toBe(true);
    } finally {
      await outage!.up();
    }

    const back = await eventually(() => srv.request("GET", "/health/ready"), (r) => r.status === 200);
    expect(back.status).toBe(200);
    const after = await eventually(() => srv.request("POST", ISSUED, { name: "after the outage" }), (r) => r.status === 201);
    expect(after.status, after.text).toBe(201);
    expect((await srv.request("GET", `${ISSUED}/${before.key.key_id}`)).body.name).toBe("before the outage");
    expect((await verify(srv, after.body.secret, { "Cache-Control": "no-cache" })).body.is_valid).toBe(true);
  });
});
