/**
 * Fault suite, PostgreSQL (issue 12): real `talos serve` processes under verify + issue + revoke
 * load while their database connections are cut (backends terminated 10 times, 0.3 s apart: the
 * reproduction of the postgres.js 3.4.x crash) and while a private PostgreSQL server is stopped and
 * started. Asserted: the process lives (no worker dies), every request gets an HTTP answer, every
 * write acknowledged with 2xx is in the database and nothing else is, readiness is 503 during an
 * outage and 200 within 2 s after it.
 */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { ISSUED_PATH, issueAt, sleep } from "../support/cluster.js";
import { pgBinDir, privatePostgres, sampleReadiness, startLoad, statusCounts, unanswered, type LoadReport } from "../support/faults.js";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { REDIS_URL, redisAddr } from "../support/redis.js";
import { E2E_TIMEOUT_MS, fetchJson, startTalos, stopAllTalos, type TalosProcess } from "../support/process.js";

const SECRET = "e2e-faults-pg-hmac-secret-0123456789abcdef";
const PG_BIN = pgBinDir();
if (!TEST_DSN) warnSkip("test/e2e/faults-postgres.test.ts (backends terminated under load, PostgreSQL restarted under load)");
if (TEST_DSN && !REDIS_URL) console.warn("\n!!! SKIPPED: faults-postgres with serve.workers: 2 — set TALOS_TEST_REDIS_URL=redis://127.0.0.1:6379 (CI does).\n");
if (TEST_DSN && !PG_BIN) console.warn("\n!!! SKIPPED: faults-postgres server restart — PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql.\n");

afterAll(stopAllTalos);

const serve = (dsn: string, extra: Record<string, string> = {}) =>
  startTalos({
    args: ["serve", "admin", "--migrate"],
    env: { TALOS_DB_DSN: dsn, TALOS_SECRETS_HMAC_CURRENT: SECRET, TALOS_CREDENTIALS_ISSUER: "https://faults.e2e.talos.test", ...extra },
    startTimeoutMs: 100_000,
  });

/** Every answer is an HTTP response with a status this operation may give under a database fault. */
function expectAnswered(report: LoadReport): void {
  expect(unanswered(report), JSON.stringify(unanswered(report).slice(0, 5))).toEqual([]);
  const allowed: Record<string, number[]> = { verify: [200], issue: [200, 201, 503], revoke: [204, 503] };
  const odd = report.outcomes.filter((o) => !allowed[o.op]!.includes(o.answer as number));
  expect(odd.slice(0, 5), JSON.stringify(statusCounts(report))).toEqual([]);
  // the load really ran, and writes were acknowledged around the faults
  expect(report.ackedKeys.size).toBeGreaterThan(5);
  expect(report.outcomes.filter((o) => o.op === "verify").length).toBeGreaterThan(20);
}

/**
 * Retries each unacknowledged issue with its request_id (a 503 may hide a commit whose answer was
 * lost), then compares the database with what was acknowledged: exactly those keys, revoked where
 * a revoke was acknowledged.
 */
async function expectWrites(apiUrl: string, dsn: string, actor: string, report: LoadReport): Promise<void> {
  for (const rid of report.issued) {
    if (report.ackedKeys.has(rid)) continue;
    for (let attempt = 0; attempt < 50 && !report.ackedKeys.has(rid); attempt++) {
      const r = await fetchJson(`${apiUrl}${ISSUED_PATH}`, { body: { name: "fault", actor_id: actor, request_id: rid } });
      if (r.status === 200 || r.status === 201) report.ackedKeys.set(rid, r.body.issued_api_key.key_id);
      else await sleep(200);
    }
  }
  const sql = postgres(dsn, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ key_id: string; request_id: string; revoked: boolean }[]>`
      select key_id, request_id, revoked from api_keys where actor_id = ${actor}`;
    expect(new Map(rows.map((r) => [r.request_id, r.key_id]))).toEqual(report.ackedKeys);
    const revoked = new Set(rows.filter((r) => r.revoked).map((r) => r.key_id));
    expect([...report.ackedRevokes].filter((id) => !revoked.has(id))).toEqual([]);
  } finally {
    await sql.end();
  }
}

/** No uncaught exception ended the process or a worker; returns the contained driver faults logged. */
function expectAlive(t: TalosProcess): string[] {
  expect(t.hasExited(), t.stderr.slice(-20).join("\n")).toBe(false);
  expect(t.stdout.filter((l) => /a worker exited unexpectedly|workers exited/.test(l))).toEqual([]);
  expect(t.stderr.filter((l) => /TypeError|Uncaught|triggerUncaughtException/.test(l))).toEqual([]);
  return t.stdout.filter((l) => l.includes("postgres driver fault contained"));
}

async function terminateUnderLoad(t: TalosProcess, dsn: string): Promise<void> {
  const dbName = new URL(dsn).pathname.slice(1);
  const actor = `fault-${randomUUID()}`;
  const k = await issueAt(t.apiUrl, { actor_id: `${actor}-verify` });
  const ready = sampleReadiness(t.metricsUrl!);
  const load = startLoad(t.apiUrl, { secret: k.secret, actor });
  const admin = postgres(TEST_DSN!, { max: 1, onnotice: () => {} });
  let lastCut = 0;
  try {
    await sleep(500);
    for (let i = 0; i < 10; i++) {
      await admin.unsafe(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${dbName}' AND application_name = 'talos'`,
      );
      await sleep(300);
    }
    lastCut = performance.now();
    await sleep(1_000);
  } finally {
    await admin.end();
  }
  const report = await load.stop();
  expect(await ready.waitFor(200, lastCut, 2_000), "ready within 2 s after the last cut").not.toBeNull();
  await ready.stop();
  const contained = expectAlive(t);
  expectAnswered(report);
  await expectWrites(t.apiUrl, dsn, actor, report);
  console.log(`backends terminated 10×: ${JSON.stringify(statusCounts(report))}; contained driver faults: ${contained.length}`);
}

describe.skipIf(!TEST_DSN)("PostgreSQL backends terminated under load", { timeout: E2E_TIMEOUT_MS }, () => {
  it("one process survives, answers every request and loses no acknowledged write", async () => {
    const db = await freshDatabase("talos_fault_term");
    try {
      const t = await serve(db.dsn);
      await terminateUnderLoad(t, db.dsn);
      expect(await t.stop()).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it.skipIf(!REDIS_URL)("serve.workers: 2 — no worker dies, every request answered, no acknowledged write lost", async () => {
    const db = await freshDatabase("talos_fault_term_w");
    try {
      const t = await serve(db.dsn, { TALOS_SERVE_WORKERS: "2", TALOS_CACHE_REDIS_ADDRS: redisAddr(REDIS_URL!), TALOS_RATE_LIMIT_BACKEND: "redis" });
      await terminateUnderLoad(t, db.dsn);
      expect(await t.stop()).toBe(0);
    } finally {
      await db.drop();
    }
  });
});

describe.skipIf(!TEST_DSN || !PG_BIN)("PostgreSQL server restarted under load (private cluster)", { timeout: E2E_TIMEOUT_MS }, () => {
  it("503 and not ready while it is down, ready within 2 s after it is back, nothing acknowledged lost", async () => {
    const pg = await privatePostgres(PG_BIN!);
    try {
      const t = await serve(pg.dsn);
      const actor = `restart-${randomUUID()}`;
      const k = await issueAt(t.apiUrl, { actor_id: `${actor}-verify` });
      const ready = sampleReadiness(t.metricsUrl!);
      const load = startLoad(t.apiUrl, { secret: k.secret, actor });
      await sleep(500);
      const down = performance.now();
      await pg.stop();
      expect(await ready.waitFor(503, down, 10_000), "not ready while the server is down").not.toBeNull();
      await sleep(2_000); // long enough for the driver's reconnect backoff to grow
      await pg.start();
      const up = performance.now();
      const back = await ready.waitFor(200, up, 2_000);
      expect(back, "ready within 2 s after the server is back").not.toBeNull();
      await sleep(1_000);
      const report = await load.stop();
      await ready.stop();
      expectAlive(t);
      expectAnswered(report);
      expect(report.outcomes.some((o) => o.op === "issue" && o.answer === 503), "issues failed with 503 during the outage").toBe(true);
      await expectWrites(t.apiUrl, pg.dsn, actor, report);
      console.log(`server restarted: ${JSON.stringify(statusCounts(report))}; ready again after ${Math.round(back!)} ms`);
      expect(await t.stop()).toBe(0);
    } finally {
      await pg.cleanup();
    }
  });
});
