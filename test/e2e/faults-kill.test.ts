/**
 * Fault suite, kill -9 (issue 12): a real `talos serve` process is SIGKILLed in the middle of a
 * 1000-item batch import and in the middle of concurrent rotations. After a restart the database
 * holds whole operations only: a batch is all there or not at all (and its replay completes it), a
 * rotation either revoked the old key and stored the new one or did neither; everything that was
 * acknowledged is there.
 */
import { randomBytes, randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { IMPORTED_PATH, ISSUED_PATH, issueAt, sleep } from "../support/cluster.js";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { E2E_TIMEOUT_MS, fetchJson, startTalos, stopAllTalos, type JsonResponse } from "../support/process.js";

if (!TEST_DSN) warnSkip("test/e2e/faults-kill.test.ts (kill -9 during batch import and rotate)");

afterAll(stopAllTalos);

const serve = (dsn: string) =>
  startTalos({
    args: ["serve", "admin", "--migrate"],
    env: { TALOS_DB_DSN: dsn, TALOS_SECRETS_HMAC_CURRENT: "e2e-faults-kill-hmac-secret-0123456789abcdef", TALOS_CREDENTIALS_ISSUER: "https://faults-kill.e2e.talos.test" },
    startTimeoutMs: 100_000,
  });

/** Polls `probe` every 5 ms until it is true (at most `limitMs`); false when it never was. */
async function waitFor(probe: () => Promise<boolean>, limitMs: number): Promise<boolean> {
  const until = performance.now() + limitMs;
  while (performance.now() < until) {
    if (await probe()) return true;
    await sleep(5);
  }
  return false;
}

/** The request's answer, or null when the connection died with the process. */
const settle = (p: Promise<JsonResponse>): Promise<JsonResponse | null> => p.catch(() => null);

describe.skipIf(!TEST_DSN)("kill -9 in the middle of a write", { timeout: 3 * E2E_TIMEOUT_MS }, () => {
  it("a batch import is stored whole or not at all, and its replay completes it", async () => {
    const db = await freshDatabase("talos_fault_kill_batch");
    const sql = postgres(db.dsn, { max: 1, onnotice: () => {} });
    try {
      const seen: number[] = [];
      const dbName = new URL(db.dsn).pathname.slice(1);
      // an INSERT of the batch running on one of the server's connections: the transaction is open
      const inserting = async () =>
        (await sql`select 1 from pg_stat_activity where datname = ${dbName} and application_name = 'talos'
                   and state = 'active' and query ilike 'insert into "api_keys"%'`).length > 0;
      for (const delayMs of [0, 50]) {
        const t = await serve(db.dsn);
        const actor = `kill-batch-${randomUUID()}`;
        const requests = Array.from({ length: 1000 }, (_, i) => ({
          raw_key: `sk_kill_${randomBytes(16).toString("hex")}`,
          name: `k${i}`,
          actor_id: actor,
          request_id: randomUUID(),
        }));
        const pending = settle(fetchJson(`${t.apiUrl}${IMPORTED_PATH}:batchCreate`, { body: { requests } }));
        expect(await waitFor(inserting, 30_000), "saw the batch INSERT running").toBe(true);
        await sleep(delayMs);
        t.proc.kill("SIGKILL");
        const answer = await pending;
        await t.exited;
        const n = (await sql<{ n: number }[]>`select count(*)::int as n from api_keys where actor_id = ${actor}`)[0]!.n;
        seen.push(n);
        expect([0, 1000], `rows after kill at ${delayMs} ms`).toContain(n);
        if (answer?.status === 200) expect(n).toBe(1000);

        const again = await serve(db.dsn);
        const replay = await fetchJson(`${again.apiUrl}${IMPORTED_PATH}:batchCreate`, { body: { requests } });
        expect(replay.status, replay.text.slice(0, 300)).toBe(200);
        expect(replay.body.results.every((r: { error_code: string }) => r.error_code === "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_UNSPECIFIED")).toBe(true);
        const m = (await sql<{ m: number }[]>`select count(*)::int as m from api_keys where actor_id = ${actor}`)[0]!.m;
        expect(m).toBe(1000);
        expect(await again.stop()).toBe(0);
      }
      console.log(`rows found after kill -9 at 0/50 ms into the INSERT: ${seen.join(", ")}`);
    } finally {
      await sql.end();
      await db.drop();
    }
  });

  it("a rotation revokes the old key and stores the new one, or does neither", async () => {
    const db = await freshDatabase("talos_fault_kill_rotate");
    const sql = postgres(db.dsn, { max: 1, onnotice: () => {} });
    try {
      const t = await serve(db.dsn);
      const tag = randomUUID();
      const N = 60;
      const keys = await Promise.all(Array.from({ length: N }, (_, i) => issueAt(t.apiUrl, { actor_id: `rot-${tag}-${i}` })));
      // 4 at a time, so that the kill lands while some rotations are done and others are running
      const settled: (JsonResponse | null)[] = new Array(N).fill(null);
      let next = 0;
      const lanes = Array.from({ length: 4 }, async () => {
        for (let i = next++; i < N; i = next++) {
          settled[i] = await settle(fetchJson(`${t.apiUrl}${ISSUED_PATH}/${keys[i]!.keyId}:rotate`, { body: {} }));
          if (settled[i] === null) return;
        }
      });
      const someDone = async () => (await sql`select 1 from api_keys where actor_id like ${`rot-${tag}-%`} and revoked limit 1`).length > 0;
      expect(await waitFor(someDone, 30_000), "some rotations committed").toBe(true);
      t.proc.kill("SIGKILL");
      await Promise.all(lanes);
      await t.exited;

      const rows = await sql<{ key_id: string; actor_id: string; revoked: boolean }[]>`
        select key_id, actor_id, revoked from api_keys where actor_id like ${`rot-${tag}-%`}`;
      let rotated = 0;
      keys.forEach((k, i) => {
        const mine = rows.filter((r) => r.actor_id === `rot-${tag}-${i}`);
        const old = mine.find((r) => r.key_id === k.keyId)!;
        const fresh = mine.filter((r) => r.key_id !== k.keyId);
        // whole or nothing: old active and no new key, or old revoked and exactly one new active key
        if (old.revoked) {
          rotated++;
          expect(fresh.map((r) => r.revoked)).toEqual([false]);
        } else expect(fresh).toEqual([]);
        const ack = settled[i];
        if (ack?.status === 201) {
          expect(old.revoked).toBe(true);
          expect(fresh.map((r) => r.key_id)).toEqual([ack.body.issued_api_key.key_id]);
        }
      });
      console.log(`kill -9 during ${N} rotations: ${settled.filter((a) => a?.status === 201).length} acknowledged, ${rotated} stored`);
      // the restarted server sees the same state and serves
      const again = await serve(db.dsn);
      expect((await fetchJson(`${again.metricsUrl}/health/ready`)).status).toBe(200);
      expect(await again.stop()).toBe(0);
    } finally {
      await sql.end();
      await db.drop();
    }
  });
});
