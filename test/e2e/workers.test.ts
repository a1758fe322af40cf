/**
 * `serve.workers` (TALOS_SERVE_WORKERS) with real `talos` processes: a primary forks node:cluster
 * workers that share the API port, serves /metrics summed over them and /health/ready only when
 * every worker is ready; replaces a worker that dies; drains on SIGTERM; refuses configurations
 * that cannot work with several processes; and stops when a worker fails to start.
 *
 * Needs PostgreSQL (TALOS_TEST_DSN) and Redis (TALOS_TEST_REDIS_URL). node:cluster on Linux hands
 * new connections to the workers round robin, so sequential requests over fresh connections
 * alternate between the two workers: that is how these tests reach both.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ISSUED_PATH, VERIFY_PATH, issueAt, metricValue, pollUntil } from "../support/cluster.js";
import { freshDatabase } from "../support/postgres.js";
import { REDIS_URL, pgAndRedisOrWarn, redisAddr } from "../support/redis.js";
import { E2E_TIMEOUT_MS, TALOS_BIN, fetchJson, runTalos, startTalos, stopAllTalos, type JsonResponse, type TalosProcess } from "../support/process.js";

const SECRET = "e2e-workers-hmac-secret-0123456789abcdef-xyz";
const ISSUER = "https://workers.e2e.talos.test";

const RUN = pgAndRedisOrWarn("test/e2e/workers.test.ts (serve.workers: cluster of workers, aggregated metrics, replacement, shutdown)");

/** Live (not zombie) processes, from /proc: `[pid, ppid]` pairs. Linux only. */
function processes(): [number, number][] {
  const out: [number, number][] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // fields after the `(comm)`, which may contain spaces: state ppid …
      const f = readFileSync(`/proc/${d}/stat`, "utf8").split(") ").pop()!.split(" ");
      if (f[0] !== "Z") out.push([Number(d), Number(f[1])]);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
};
/**
 * The cluster workers of `pid`: its children running the talos entry point. tsx may leave other
 * children (its esbuild service), which are not workers.
 */
const workersOf = (pid: number) =>
  processes()
    .filter(([p, ppid]) => ppid === pid && cmdline(p).includes(TALOS_BIN))
    .map(([p]) => p)
    .sort((a, b) => a - b);
const isRunning = (pid: number) => processes().some(([p]) => p === pid);
/** Marks a server's environment (not TALOS_*: that would be configuration); workers inherit it. */
const MARK = "E2E_WORKERS_MARK";
/** talos processes (primary and workers, not esbuild) whose environment holds `E2E_WORKERS_MARK=<id>`. */
function processesMarked(id: string): number[] {
  return processes().flatMap(([pid]) => {
    try {
      const marked = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`${MARK}=${id}`);
      return marked && cmdline(pid).includes(TALOS_BIN) ? [pid] : [];
    } catch {
      return []; // another user's process, or gone
    }
  });
}

describe.skipIf(!RUN)("serve.workers: several processes share the API port", { timeout: E2E_TIMEOUT_MS }, () => {
  let db: { dsn: string; drop: () => Promise<void> };
  let talos: TalosProcess;
  const mark = randomUUID();

  const env = (extra: Record<string, string | undefined> = {}) => ({
    TALOS_DB_DSN: db.dsn,
    TALOS_SECRETS_HMAC_CURRENT: SECRET,
    TALOS_CREDENTIALS_ISSUER: ISSUER,
    TALOS_CACHE_TTL: "10m",
    TALOS_CACHE_REDIS_ADDRS: redisAddr(REDIS_URL!),
    TALOS_RATE_LIMIT_BACKEND: "redis",
    TALOS_SERVE_WORKERS: "2",
    ...extra,
  });

  beforeAll(async () => {
    db = await freshDatabase("talos_e2e_workers");
    // three tsx start-ups (primary + 2 workers) on a small machine: be patient
    talos = await startTalos({ args: ["serve", "admin", "--migrate"], env: env({ [MARK]: mark }), startTimeoutMs: 100_000 });
  }, 120_000);
  afterAll(async () => {
    await stopAllTalos();
    await db?.drop();
  });

  /** A verify over its own TCP connection, so node:cluster picks the next worker for it. */
  const verifyFresh = (credential: string, s: TalosProcess = talos): Promise<JsonResponse> =>
    fetchJson(`${s.apiUrl}${VERIFY_PATH}`, { body: { credential }, headers: { connection: "close" } });
  const verifySequential = async (credential: string, n: number, s: TalosProcess = talos): Promise<JsonResponse[]> => {
    const out: JsonResponse[] = [];
    for (let i = 0; i < n; i++) out.push(await verifyFresh(credential, s));
    return out;
  };
  /** A cluster of its own, for a test that kills or stops processes (the shared one stays untouched). */
  const startOwn = async (ownMark: string): Promise<TalosProcess> =>
    startTalos({ args: ["serve", "admin", "--migrate"], env: env({ [MARK]: ownMark }), startTimeoutMs: 100_000 });
  const metrics = async () => (await fetchJson(`${talos.metricsUrl}/metrics`)).text;
  const cacheMisses = async () => metricValue(await metrics(), "talos_verification_cache_total", { result: "miss" });
  const ready = (s: TalosProcess = talos) => fetchJson(`${s.metricsUrl}/health/ready`);
  /** docs/verification.md#verification-error-codes: a revoked key shows in error_code only (status is never KEY_STATUS_REVOKED in a verify) */
  const isRevoked = (r: JsonResponse) => r.body?.is_valid === false && r.body.error_code === "VERIFICATION_ERROR_REVOKED";

  it("the primary forks exactly 2 workers and answers /health/alive and /health/ready", async () => {
    expect(workersOf(talos.pid)).toHaveLength(2);
    // the marker detector used by the start-up failure test sees the primary and both workers
    expect(processesMarked(mark).sort((a, b) => a - b)).toEqual([talos.pid, ...workersOf(talos.pid)].sort((a, b) => a - b));
    for (const path of ["/health/alive", "/health/ready"]) {
      const r = await fetchJson(`${talos.metricsUrl}${path}`);
      expect([path, r.status, r.body]).toEqual([path, 200, { status: "ok" }]);
    }
    // the log is flushed every 500 ms: wait for the line
    expect(JSON.parse(await talos.waitForLine(/"msg":"talos is serving"/, 5_000))).toMatchObject({ workers: 2 });
  });

  it("both workers serve, and /metrics sums their counters", async () => {
    const N = 40;
    const k = await issueAt(talos.apiUrl);
    const results = await verifySequential(k.secret, N);
    expect(results.filter((r) => r.status === 200 && r.body.is_valid === true)).toHaveLength(N);
    // each worker has its own cache: one MISS per worker, then HITs. A single worker would give 1.
    expect(results.filter((r) => r.headers.get("ory-talos-cache") === "MISS")).toHaveLength(2);
    // the first verifies this server sees, so the sums are absolute
    const verifies = (t: string) => metricValue(t, "http_requests_total", { route: VERIFY_PATH, status: "200" });
    // counters are bumped as the response ends: allow the last one a moment to land
    let text = "";
    await pollUntil(async () => verifies((text = await metrics())) >= N, 2_000, 50);
    expect(verifies(text), "aggregated verify count").toBe(N);
    expect(metricValue(text, "talos_verification_cache_total", { result: "miss" }), "one miss per worker cache").toBe(2);
    expect(metricValue(text, "talos_verification_cache_total", { result: "hit" })).toBe(N - 2);
  });

  it("a revocation reaches every worker's cache: no worker serves a stale HIT", async () => {
    const k = await issueAt(talos.apiUrl);
    const before = await cacheMisses();
    const warmed = await verifySequential(k.secret, 4);
    expect(warmed.map((r) => r.body.is_valid)).toEqual([true, true, true, true]);
    expect((await cacheMisses()) - before, "both workers cached the key").toBe(2);
    expect(warmed.slice(2).map((r) => r.headers.get("ory-talos-cache"))).toEqual(["HIT", "HIT"]);

    // the revoke lands on one worker; the other learns of it over NOTIFY / Redis pub/sub
    expect((await fetchJson(`${talos.apiUrl}${ISSUED_PATH}/${k.keyId}:revoke`, { body: {} })).status).toBe(204);
    let round: JsonResponse[] = [];
    const ms = await pollUntil(async () => (round = await verifySequential(k.secret, 20)).every(isRevoked), 5_000, 20);
    expect(ms, `still valid on a worker: ${round.filter((r) => !isRevoked(r)).map((r) => `${r.headers.get("ory-talos-cache")} ${r.text}`)[0]}`).not.toBeNull();
    // and it stays that way
    expect((await verifySequential(k.secret, 20)).filter((r) => !isRevoked(r))).toEqual([]);
  });

  it("the redis rate limiter is shared: 3Q verifies over both workers, exactly Q valid", async () => {
    const Q = 5;
    // 1 h window: nothing refills while the requests run, so the count is exact
    const k = await issueAt(talos.apiUrl, { rate_limit_policy: { quota: Q, window: "3600s" } });
    const decisions = async () => {
      const t = await metrics();
      const d = (decision: string) => metricValue(t, "talos_rate_limit_decisions_total", { decision, backend: "redis" });
      return { allowed: d("allowed"), limited: d("limited"), misses: metricValue(t, "talos_verification_cache_total", { result: "miss" }) };
    };
    const before = await decisions();
    const results = await verifySequential(k.secret, 3 * Q);
    expect(results.filter((r) => r.body.is_valid === true)).toHaveLength(Q);
    expect(results.filter((r) => r.body.error_code === "VERIFICATION_ERROR_RATE_LIMITED")).toHaveLength(2 * Q);
    expect(results.slice(0, Q).every((r) => r.body.is_valid), "the first Q pass, on either worker").toBe(true);
    const after = await decisions();
    expect({ allowed: after.allowed - before.allowed, limited: after.limited - before.limited, misses: after.misses - before.misses }).toEqual({
      allowed: Q,
      limited: 2 * Q,
      misses: 2, // both workers took part
    });
  });

  it("a killed worker is replaced; the API and readiness recover", async () => {
    const own = await startOwn(randomUUID());
    const [victim, survivor] = workersOf(own.pid) as [number, number];
    process.kill(victim, "SIGKILL");
    let now: number[] = [];
    const ms = await pollUntil(async () => (now = workersOf(own.pid)).length === 2 && !now.includes(victim), 30_000, 100);
    expect(ms, `children now ${JSON.stringify(now)}`).not.toBeNull();
    expect(now).toContain(survivor);
    // readiness asks every live worker: 200 once the replacement is up
    expect(await pollUntil(async () => (await ready(own)).status === 200, 30_000, 200), "ready again").not.toBeNull();
    expect((await ready(own)).body).toEqual({ status: "ok" });
    const k = await issueAt(own.apiUrl);
    const results = await verifySequential(k.secret, 6, own);
    expect(results.filter((r) => r.body.is_valid === true)).toHaveLength(6);
    expect(results.filter((r) => r.headers.get("ory-talos-cache") === "MISS"), "the replacement serves too").toHaveLength(2);
    expect(JSON.parse(await own.waitForLine(/a worker exited unexpectedly/, 5_000))).toMatchObject({ signal: "SIGKILL" });
    expect(own.hasExited()).toBe(false);
  }, 180_000);

  it("SIGTERM to the primary drains the workers and exits 0", async () => {
    const ownMark = randomUUID();
    const own = await startOwn(ownMark);
    const workers = workersOf(own.pid);
    expect(workers).toHaveLength(2);
    expect(await own.stop("SIGTERM")).toBe(0);
    // the primary waits for its workers' exit before it exits itself
    expect(workers.filter(isRunning), "workers still running").toEqual([]);
    expect(processesMarked(ownMark)).toEqual([]);
  }, 180_000);

  it("SIGTERM while the workers are still starting: exit 0, no worker left", async () => {
    const earlyMark = randomUUID();
    const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, TALOS_SERVE_HTTP_HOST: "127.0.0.1", TALOS_SERVE_HTTP_PORT: "0", TALOS_SERVE_METRICS_HOST: "127.0.0.1", TALOS_SERVE_METRICS_PORT: "0", ...env({ [MARK]: earlyMark }) };
    const child = spawn(process.execPath, [TALOS_BIN, "serve", "admin"], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    // Signal once both workers exist (forked as soon as the primary has read its configuration)
    // but before they listen (tsx and the database take seconds): a signal before the fork would
    // only test node's default SIGTERM action on a process with no workers.
    const deadline = Date.now() + 30_000;
    while (workersOf(child.pid!).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(workersOf(child.pid!), "workers forked").toHaveLength(2);
    expect(out, "already serving: the signal would not arrive during start-up").not.toContain("TALOS_PORTS");
    try {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(processesMarked(earlyMark), "orphaned workers").toEqual([]);
    } finally {
      child.kill("SIGKILL");
      for (const pid of processesMarked(earlyMark)) process.kill(pid, "SIGKILL");
    }
  }, 60_000);

  describe("configuration errors", () => {
    const base = { TALOS_SECRETS_HMAC_CURRENT: SECRET, TALOS_CREDENTIALS_ISSUER: ISSUER, TALOS_SERVE_WORKERS: "2" };

    it("workers > 1 on the embedded database: exit 1 naming serve.workers", async () => {
      const r = await runTalos(["serve", "admin"], { ...base, TALOS_DB_DSN: "memory", TALOS_CACHE_REDIS_ADDRS: redisAddr(REDIS_URL!), TALOS_RATE_LIMIT_BACKEND: "redis" });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/serve\.workers.*PostgreSQL/);
    });

    it("workers > 1 with the memory rate limiter: exit 1 naming serve.workers", async () => {
      const r = await runTalos(["serve", "admin"], { ...base, TALOS_DB_DSN: db.dsn });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/serve\.workers.*rate_limit\.backend/);
    });
  });

  it("a worker that fails to start (schema missing, no --migrate) stops the server and leaves no worker behind", async () => {
    const empty = await freshDatabase("talos_e2e_workers_empty");
    const failedMark = randomUUID();
    try {
      const r = await runTalos(["serve", "admin"], env({ TALOS_DB_DSN: empty.dsn, [MARK]: failedMark }), undefined, { timeoutMs: 75_000 });
      expect(r.code, `exit code (null = still running after 75 s)\n${r.stderr}`).not.toBeNull();
      expect(r.code).not.toBe(0);
      const failed = r.stdout.split("\n").find((l) => l.includes("a worker failed to start"));
      expect(failed, r.stdout).toBeDefined();
      // the worker's own exit code reaches the primary (a bare IPC disconnect would make it 0)
      expect(JSON.parse(failed!)).toMatchObject({ code: 1 });
      expect(processesMarked(failedMark), "orphaned workers").toEqual([]);
    } finally {
      await empty.drop();
    }
  }, 90_000);
});
