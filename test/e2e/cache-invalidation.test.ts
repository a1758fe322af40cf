/**
 * Cross-process cache invalidation through PostgreSQL LISTEN/NOTIFY (docs/verification.md#cache), per-process rate
 * limits of the memory backend (docs/verification.md#rate-limit-backends) and the last-used flush (docs/verification.md#last-used-time), with real `talos` processes
 * on one real PostgreSQL database and no Redis. The Redis paths are in redis.test.ts.
 *
 * Every server runs with `cache.ttl` 10m: within a test only an invalidation (or a cleared cache)
 * can explain a fresh answer on the instance that did not perform the mutation.
 */
import { randomUUID } from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMPORTED_PATH, ISSUED_PATH, SELF_REVOKE_PATH, issueAt, pollUntil, sleep, summarize, verifyAt, warm } from "../support/cluster.js";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { E2E_TIMEOUT_MS, fetchJson, startTalos, stopAllTalos, type TalosProcess } from "../support/process.js";

const SECRET = "e2e-cache-invalidation-hmac-0123456789abcdef";
const ISSUER = "https://cache.e2e.talos.test";
/** Generous for a loaded CI machine; the observed delays are printed (typically a few ms). */
const PROPAGATION_LIMIT_MS = 5_000;

const serverEnv = (dsn: string, extra: Record<string, string> = {}) => ({
  TALOS_DB_DSN: dsn,
  TALOS_SECRETS_HMAC_CURRENT: SECRET,
  TALOS_CREDENTIALS_ISSUER: ISSUER,
  TALOS_CACHE_TTL: "10m",
  TALOS_LAST_USED_FLUSH_INTERVAL: "200ms",
  ...extra,
});

if (!TEST_DSN) warnSkip("test/e2e/cache-invalidation.test.ts (LISTEN/NOTIFY invalidation, memory rate limits and last-used across talos processes)");

describe.skipIf(!TEST_DSN)("cache invalidation across processes via PostgreSQL LISTEN/NOTIFY", { timeout: E2E_TIMEOUT_MS }, () => {
  let db: { dsn: string; drop: () => Promise<void> };
  let sql: postgres.Sql;
  /** two admin instances and one public instance on one database */
  let a: TalosProcess;
  let b: TalosProcess;
  let pub: TalosProcess;
  /** last_used.flush_interval 1h: only the shutdown flush can write its uses */
  let slowFlush: TalosProcess;
  const delays: Record<string, number> = {};

  beforeAll(async () => {
    db = await freshDatabase("talos_e2e_cache");
    sql = postgres(db.dsn, { max: 2, onnotice: () => {} });
    // the first start applies the migrations (the others would wait on the migration lock anyway)
    a = await startTalos({ args: ["serve", "admin", "--migrate"], env: serverEnv(db.dsn) });
    [b, pub, slowFlush] = await Promise.all([
      startTalos({ args: ["serve", "admin"], env: serverEnv(db.dsn) }),
      startTalos({ args: ["serve", "public"], env: serverEnv(db.dsn) }),
      startTalos({ args: ["serve", "admin"], env: serverEnv(db.dsn, { TALOS_LAST_USED_FLUSH_INTERVAL: "1h" }) }),
    ]);
  });
  afterAll(async () => {
    if (Object.keys(delays).length > 0) {
      const s = summarize(Object.values(delays));
      console.log(`[cache-invalidation] PostgreSQL NOTIFY propagation over ${s.n} mutations: median ${s.median} ms, max ${s.max} ms; ${JSON.stringify(delays)}`);
    }
    await stopAllTalos();
    await sql?.end();
    await db?.drop();
  });

  /** Both instances answer from their cache: MISS then HIT, valid. */
  async function warmBoth(credential: string, ...servers: TalosProcess[]) {
    for (const s of servers.length ? servers : [a, b]) {
      const r = await warm(s.apiUrl, credential);
      expect(r.headers.get("ory-talos-cache"), `warm ${s.apiUrl}`).toBe("HIT");
      expect(r.body.is_valid).toBe(true);
    }
  }

  /** Polls `s` (cache not bypassed) until `done(body)`; records and returns the delay since `since`. */
  async function propagated(label: string, s: TalosProcess, credential: string, done: (body: any) => boolean, since: number) {
    let last: any;
    const ms = await pollUntil(
      async () => {
        last = (await verifyAt(s.apiUrl, credential)).body;
        return done(last);
      },
      PROPAGATION_LIMIT_MS,
      3,
      since,
    );
    expect(ms, `${label}: still ${JSON.stringify(last)} after ${PROPAGATION_LIMIT_MS} ms`).not.toBeNull();
    delays[label] = Math.round(ms! * 10) / 10;
    console.log(`[cache-invalidation] ${label}: visible on the other instance after ${delays[label]} ms`);
    return last;
  }

  /** Strict "nothing arrived": a marker key revoked on A after the change under test is seen on B (one LISTEN channel, in order) */
  async function markerRevokedOnB(): Promise<void> {
    const m = await issueAt(a.apiUrl, { scopes: ["marker"] });
    await warmBoth(m.secret, b);
    expect((await fetchJson(`${a.apiUrl}${ISSUED_PATH}/${m.keyId}:revoke`, { body: {} })).status).toBe(204);
    const ms = await pollUntil(async () => (await verifyAt(b.apiUrl, m.secret)).body.error_code === "VERIFICATION_ERROR_REVOKED", PROPAGATION_LIMIT_MS, 3);
    expect(ms, "the marker's notification reached B").not.toBeNull();
  }

  it("a stale entry really survives without a notification (the 10m ttl holds), until no-cache reads through", async () => {
    const k = await issueAt(a.apiUrl, { scopes: ["r"] });
    await warmBoth(k.secret);
    await sql`update api_keys set revoked = true where key_id = ${k.keyId}`; // no NOTIFY
    await markerRevokedOnB();
    const stale = await verifyAt(b.apiUrl, k.secret);
    expect(stale.headers.get("ory-talos-cache")).toBe("HIT");
    expect(stale.body.is_valid).toBe(true);
    const fresh = await verifyAt(b.apiUrl, k.secret, { noCache: true });
    expect(fresh.headers.get("ory-talos-cache")).toBe("SKIP");
    expect(fresh.body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    // no-cache wrote the fresh record: later plain reads see it
    const after = await verifyAt(b.apiUrl, k.secret);
    expect(after.headers.get("ory-talos-cache")).toBe("HIT");
    expect(after.body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
  });

  it("revoke on A: B (warm cache) reports REVOKED shortly after; A at once", async () => {
    const k = await issueAt(a.apiUrl, { scopes: ["r"] });
    await warmBoth(k.secret);
    const rev = await fetchJson(`${a.apiUrl}${ISSUED_PATH}/${k.keyId}:revoke`, { body: { reason: "REVOCATION_REASON_KEY_COMPROMISE" } });
    expect(rev.status).toBe(204);
    const t0 = performance.now();
    const onA = await verifyAt(a.apiUrl, k.secret);
    expect(onA.body.error_code, "the mutating instance is up to date at once").toBe("VERIFICATION_ERROR_REVOKED");
    expect(onA.headers.get("ory-talos-cache")).toBe("MISS");
    const body = await propagated("revoke", b, k.secret, (v) => v.error_code === "VERIFICATION_ERROR_REVOKED", t0);
    expect(body).toMatchObject({ is_valid: false, key_id: k.keyId, status: "KEY_STATUS_UNSPECIFIED" });
  });

  it("update on A: B sees the new scopes", async () => {
    const k = await issueAt(a.apiUrl, { scopes: ["before"], metadata: { v: 1 } });
    await warmBoth(k.secret);
    const upd = await fetchJson(`${a.apiUrl}${ISSUED_PATH}/${k.keyId}`, { method: "PATCH", body: { scopes: ["after", "more"], metadata: { v: 2 } } });
    expect(upd.status, upd.text).toBe(200);
    const t0 = performance.now();
    const body = await propagated("update", b, k.secret, (v) => JSON.stringify(v.scopes) === JSON.stringify(["after", "more"]), t0);
    expect(body).toMatchObject({ is_valid: true, metadata: { v: 2 } });
    expect((await verifyAt(a.apiUrl, k.secret)).body.scopes).toEqual(["after", "more"]);
  });

  it("rotate on A: the old key is REVOKED on B, the new one valid there", async () => {
    const k = await issueAt(a.apiUrl, { scopes: ["r"] });
    await warmBoth(k.secret);
    const rot = await fetchJson(`${a.apiUrl}${ISSUED_PATH}/${k.keyId}:rotate`, { body: {} });
    expect(rot.status, rot.text).toBe(201);
    const t0 = performance.now();
    await propagated("rotate", b, k.secret, (v) => v.error_code === "VERIFICATION_ERROR_REVOKED", t0);
    const fresh = await verifyAt(b.apiUrl, rot.body.secret);
    expect(fresh.body).toMatchObject({ is_valid: true, key_id: rot.body.issued_api_key.key_id, scopes: ["r"] });
  });

  it("self-revoke through `serve public`: both admin instances see it", async () => {
    const k = await issueAt(a.apiUrl, { scopes: ["r"] });
    await warmBoth(k.secret);
    const rev = await fetchJson(`${pub.apiUrl}${SELF_REVOKE_PATH}`, { body: { credential: k.secret } });
    expect(rev.status, rev.text).toBe(200);
    const t0 = performance.now();
    await propagated("self-revoke (public -> admin B)", b, k.secret, (v) => v.error_code === "VERIFICATION_ERROR_REVOKED", t0);
    await propagated("self-revoke (public -> admin A)", a, k.secret, (v) => v.error_code === "VERIFICATION_ERROR_REVOKED", t0);
  });

  it("delete of an imported key on A: B says NOT_FOUND", async () => {
    const raw = `cache-e2e-imported-${randomUUID()}`;
    const imp = await fetchJson(`${a.apiUrl}${IMPORTED_PATH}`, { body: { raw_key: raw, name: "imp", actor_id: "cache-e2e" } });
    expect(imp.status, imp.text).toBe(201);
    await warmBoth(raw);
    const del = await fetchJson(`${a.apiUrl}${IMPORTED_PATH}/${imp.body.key_id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    const t0 = performance.now();
    const body = await propagated("delete imported", b, raw, (v) => v.error_code === "VERIFICATION_ERROR_NOT_FOUND", t0);
    expect(body.key_id).toBe("");
  });

  it("a lost LISTEN connection: after it is re-established the cache starts empty, so no stale entry survives", async () => {
    const k = await issueAt(a.apiUrl, { scopes: ["r"] });
    await warmBoth(k.secret, b);
    // change the row without NOTIFY: as if the notification were sent while B was disconnected
    await sql`update api_keys set revoked = true where key_id = ${k.keyId}`;
    expect((await verifyAt(b.apiUrl, k.secret)).body.is_valid, "stale before the reconnect").toBe(true);

    const dbName = new URL(db.dsn).pathname.slice(1);
    // postgres.js keeps one LISTEN connection per instance for every channel (cache invalidation and the
    // events outbox's wake-up), so pg_stat_activity shows whichever LISTEN it sent last
    const listeners = await sql<{ pid: number }[]>`
      select pid from pg_stat_activity
      where datname = ${dbName} and application_name = 'talos' and query ilike 'listen%'`;
    expect(listeners.length, "one LISTEN connection per instance (A, B, and public and slowFlush while they run)").toBeGreaterThanOrEqual(2);
    const reconnectsBefore = b.stdout.filter((l) => l.includes("connection re-established")).length;
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where pid in ${sql(listeners.map((l) => l.pid))}`;
    const t0 = performance.now();

    let last: any;
    const ms = await pollUntil(
      async () => {
        const r = await verifyAt(b.apiUrl, k.secret);
        last = { cache: r.headers.get("ory-talos-cache"), code: r.body.error_code };
        return r.body.error_code === "VERIFICATION_ERROR_REVOKED";
      },
      PROPAGATION_LIMIT_MS,
      20,
      t0,
    );
    expect(ms, `still ${JSON.stringify(last)}`).not.toBeNull();
    expect(last.cache, "the cache was cleared: the revoked state came from the database").toBe("MISS");
    console.log(`[cache-invalidation] LISTEN reconnect: cache cleared and stale entry gone after ${Math.round(ms!)} ms`);
    // the log is written asynchronously: wait for the line rather than expect it already
    const logged = await pollUntil(async () => b.stdout.filter((l) => l.includes("connection re-established")).length > reconnectsBefore, 5_000, 20);
    expect(logged, "B logs the re-established LISTEN connection").not.toBeNull();

    // and LISTEN works again afterwards
    const k2 = await issueAt(a.apiUrl);
    await warmBoth(k2.secret, b);
    expect((await fetchJson(`${a.apiUrl}${ISSUED_PATH}/${k2.keyId}:revoke`, { body: {} })).status).toBe(204);
    await propagated("revoke after LISTEN reconnect", b, k2.secret, (v) => v.error_code === "VERIFICATION_ERROR_REVOKED", performance.now());
  });

  it("memory rate limiter: each process enforces the full quota on its own (N instances admit N x quota)", async () => {
    const Q = 20;
    // a 1 h window (one request back every 3 min): the burst cannot refill while the test runs
    const k = await issueAt(a.apiUrl, { rate_limit_policy: { quota: Q, window: "3600s" } });
    const results = await Promise.all(Array.from({ length: 3 * Q }, (_, i) => verifyAt((i % 2 ? a : b).apiUrl, k.secret)));
    const allowedOn = (s: TalosProcess) => results.filter((r, i) => (i % 2 ? a : b) === s && r.body.is_valid).length;
    expect(allowedOn(a)).toBe(Q);
    expect(allowedOn(b)).toBe(Q);
    const allowed = results.filter((r) => r.body.is_valid).length;
    expect(allowed).toBeGreaterThan(Q);
    expect(allowed).toBe(2 * Q);
    for (const r of results.filter((x) => !x.body.is_valid)) {
      expect(r.body.error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
      expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
    }
  });

  it("last_used_time: a verify is written by the next flush (200ms) and read back by GET", async () => {
    const k = await issueAt(b.apiUrl);
    const before = await fetchJson(`${b.apiUrl}${ISSUED_PATH}/${k.keyId}`);
    expect(before.body.last_used_time).toBeNull();
    const t = Date.now();
    expect((await verifyAt(b.apiUrl, k.secret)).body.is_valid).toBe(true);
    let seen: string | null = null;
    const ms = await pollUntil(
      async () => {
        seen = (await fetchJson(`${b.apiUrl}${ISSUED_PATH}/${k.keyId}`)).body.last_used_time;
        return seen !== null;
      },
      5_000,
      50,
    );
    expect(ms, "last_used_time written within 5 s with a 200ms flush interval").not.toBeNull();
    const at = Date.parse(seen!);
    expect(at).toBeGreaterThanOrEqual(t - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
    // also visible through the other instance (it is a database value, not process state)
    expect((await fetchJson(`${a.apiUrl}${ISSUED_PATH}/${k.keyId}`)).body.last_used_time).toBe(seen);
  });

  it("last_used_time: SIGTERM flushes the queued uses before exit (flush interval 1h)", async () => {
    const k = await issueAt(slowFlush.apiUrl);
    expect((await verifyAt(slowFlush.apiUrl, k.secret)).body.is_valid).toBe(true);
    await sleep(300);
    const [queued] = await sql<{ last_used_time: Date | null }[]>`select last_used_time from api_keys where key_id = ${k.keyId}`;
    expect(queued!.last_used_time, "nothing is written on the request path").toBeNull();
    expect(await slowFlush.stop("SIGTERM")).toBe(0);
    const [flushed] = await sql<{ last_used_time: Date | null }[]>`select last_used_time from api_keys where key_id = ${k.keyId}`;
    expect(flushed!.last_used_time).toBeInstanceOf(Date);
    expect(Math.abs(flushed!.last_used_time!.getTime() - Date.now())).toBeLessThan(60_000);
  });
});
