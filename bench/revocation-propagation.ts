/**
 * Revocation propagation between two `talos serve admin` processes on one PostgreSQL database
 * (docs/verification.md#cache): for each of N keys, warm instance B's cache, revoke on A, poll B (plain verify,
 * cache not bypassed) every few ms until it answers REVOKED. Both run with cache.ttl 10m, so only
 * the invalidation can explain the fresh answer.
 *
 *   node --import tsx bench/revocation-propagation.ts [--n 100] [--redis] [--poll-ms 2] [--dsn postgres://…]
 *
 * DSN: --dsn, else TALOS_BENCH_DSN, else TALOS_TEST_DSN; a fresh database is created on that server
 * and dropped afterwards. --redis also configures Redis (TALOS_BENCH_REDIS_URL, else
 * TALOS_TEST_REDIS_URL, else redis://127.0.0.1:6379): the invalidation then travels both ways
 * (NOTIFY and pub/sub) and the first to arrive wins, as in production.
 *
 * The delay is measured from the moment A's revoke response arrives (the transaction has committed)
 * to B's first REVOKED answer; it includes one verify round trip and up to one poll interval.
 * Results: stdout and bench/results/revocation-latest.json (one entry per path, the latest run of each).
 * From another script: `await measureRevocationPropagation({ dsn, n: 100, redis: null })`.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { ISSUED_PATH, issueAt, sleep, summarize, verifyAt, warm } from "../test/support/cluster.js";
import { fetchJson, startTalos, stopAllTalos } from "../test/support/process.js";

export interface PropagationOptions {
  /** a PostgreSQL server DSN; a fresh database is created on it */
  dsn: string;
  /** number of revocations measured (default 100) */
  n?: number;
  /** `redis://host:port` to configure Redis on both instances, or null for PostgreSQL NOTIFY only */
  redis?: string | null;
  /** poll interval on B (default 2 ms) */
  pollMs?: number;
  /** give up on one key after this long (default 10 s); counted in `timeouts` */
  limitMs?: number;
  log?: (line: string) => void;
}

export interface PropagationResult {
  path: "postgres-notify" | "postgres-notify+redis";
  n: number;
  pollMs: number;
  /** milliseconds, see the file comment */
  median: number;
  p90: number;
  max: number;
  min: number;
  mean: number;
  timeouts: number;
  /** revocations whose very first poll already answered REVOKED (delay = one verify round trip) */
  firstPollFresh: number;
  delaysMs: number[];
  meta: Record<string, unknown>;
}

const SECRET = "bench-revocation-hmac-secret-0123456789abcdef";

export async function measureRevocationPropagation(opts: PropagationOptions): Promise<PropagationResult> {
  const n = opts.n ?? 100;
  const pollMs = opts.pollMs ?? 2;
  const limitMs = opts.limitMs ?? 10_000;
  const log = opts.log ?? (() => {});
  const name = `talos_bench_revocation_${randomBytes(5).toString("hex")}`;
  const admin = postgres(opts.dsn, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(opts.dsn);
  url.pathname = `/${name}`;
  const env: Record<string, string> = {
    TALOS_DB_DSN: url.toString(),
    TALOS_SECRETS_HMAC_CURRENT: SECRET,
    TALOS_CREDENTIALS_ISSUER: "https://bench.talos.test",
    TALOS_CACHE_TTL: "10m",
    TALOS_LOG_LEVEL: "warn",
  };
  if (opts.redis) {
    const r = new URL(opts.redis);
    env.TALOS_CACHE_REDIS_ADDRS = `${r.hostname}:${r.port || "6379"}`;
    if (r.password) env.TALOS_CACHE_REDIS_PASSWORD = decodeURIComponent(r.password);
  }
  try {
    const a = await startTalos({ args: ["serve", "admin", "--migrate"], env });
    const b = await startTalos({ args: ["serve", "admin"], env });
    if (opts.redis && b.logs().some((l) => l.msg === "redis is not reachable yet; retrying in the background")) {
      throw new Error(`Redis at ${opts.redis} is not reachable`);
    }
    log(`A ${a.apiUrl}, B ${b.apiUrl}; issuing ${n} keys`);
    const keys: { keyId: string; secret: string }[] = [];
    for (let i = 0; i < n; i += 10) {
      keys.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, () => issueAt(a.apiUrl, { name: "bench" })))));
    }
    const delays: number[] = [];
    let timeouts = 0;
    let firstPollFresh = 0;
    for (const [i, k] of keys.entries()) {
      const w = await warm(b.apiUrl, k.secret);
      if (w.headers.get("ory-talos-cache") !== "HIT" || !w.body.is_valid) throw new Error(`B did not cache key ${k.keyId}: ${w.text}`);
      const rev = await fetchJson(`${a.apiUrl}${ISSUED_PATH}/${k.keyId}:revoke`, { body: {} });
      if (rev.status !== 204) throw new Error(`revoke failed: ${rev.status} ${rev.text}`);
      const t0 = performance.now();
      for (let poll = 0; ; poll++) {
        const v = await verifyAt(b.apiUrl, k.secret);
        const ms = performance.now() - t0;
        if (v.body.error_code === "VERIFICATION_ERROR_REVOKED") {
          delays.push(ms);
          if (poll === 0) firstPollFresh++;
          break;
        }
        if (ms > limitMs) {
          timeouts++;
          break;
        }
        await sleep(pollMs);
      }
      if ((i + 1) % 25 === 0) log(`${i + 1}/${n} revocations measured`);
    }
    const s = summarize(delays);
    return {
      path: opts.redis ? "postgres-notify+redis" : "postgres-notify",
      n: s.n,
      pollMs,
      median: s.median,
      p90: s.p90,
      max: s.max,
      min: s.min,
      mean: s.mean,
      timeouts,
      firstPollFresh,
      delaysMs: delays.map((d) => Math.round(d * 100) / 100),
      meta: { date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) },
    };
  } finally {
    await stopAllTalos();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: "string", default: "100" },
      redis: { type: "boolean", default: false },
      "poll-ms": { type: "string", default: "2" },
      dsn: { type: "string" },
    },
  });
  const dsn = values.dsn ?? process.env.TALOS_BENCH_DSN ?? process.env.TALOS_TEST_DSN;
  if (!dsn) {
    process.stderr.write("error: no PostgreSQL server: pass --dsn or set TALOS_BENCH_DSN (or TALOS_TEST_DSN)\n");
    process.exit(2);
  }
  const redis = values.redis ? (process.env.TALOS_BENCH_REDIS_URL ?? process.env.TALOS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379") : null;
  const r = await measureRevocationPropagation({
    dsn,
    n: Number(values.n),
    redis,
    pollMs: Number(values["poll-ms"]),
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const dir = new URL("./results/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  // one file, one entry per path: a run with and one without --redis both stay visible
  const file = new URL("revocation-latest.json", dir);
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    // first run
  }
  all[r.path] = r;
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  process.stdout.write(
    `revocation propagation (${r.path}), ${r.n} keys, poll ${r.pollMs} ms: median ${r.median} ms, p90 ${r.p90} ms, max ${r.max} ms; ` +
      `${r.firstPollFresh}/${r.n} fresh at the first poll${r.timeouts ? `, ${r.timeouts} TIMEOUTS` : ""}\nwritten to ${file.pathname}\n`,
  );
  if (r.timeouts > 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
