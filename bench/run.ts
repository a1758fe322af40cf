import autocannon, { type Options as CannonOptions, type Result as CannonResult } from "autocannon";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { exportJWK, generateKeyPair } from "jose";
import postgres from "postgres";
import { fileSize, ROOT, startProcess, TALOS_READY_LINE, talosEntry, talosServerEnv, type Proc } from "./proc.js";
import { paced } from "./paced.js";
import { formatSummary, summarise, type ProfileSummary } from "./profile-summary.js";
import { round } from "./stats.js";
import { findWrk, runWrk, SEQ, type WrkRequest } from "./wrk.js";

/**
 * `npm run bench [-- --quick] [-- --compare bench/results/<file>.json]`
 *
 * Starts its own servers as real processes on 127.0.0.1 (a bare Hono baseline, talos on the
 * embedded database, talos on PostgreSQL when TALOS_BENCH_DSN or TALOS_TEST_DSN is set), drives
 * them with wrk (autocannon in this process when wrk is missing), and writes bench/results/<timestamp>.{json,md} plus
 * bench/results/latest.json. Every load loop is bounded by a duration; the whole run by
 * --max-seconds. The method and the targets are described in BENCHMARKS.md.
 */

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    compare: { type: "string" },
    connections: { type: "string", default: "32" },
    duration: { type: "string" },
    warmup: { type: "string" },
    "no-pg": { type: "boolean", default: false },
    "no-profile": { type: "boolean", default: false },
    "cache-entries": { type: "string" },
    "max-seconds": { type: "string" },
    workers: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

const QUICK = args.quick ?? false;
const CONNECTIONS = Number(args.connections);
const DURATION = Number(args.duration ?? (QUICK ? 1 : 10));
const WARMUP = Number(args.warmup ?? (QUICK ? 0.5 : 2));
const PROFILE_SECONDS = Math.min(DURATION, 6);
const MAX_SECONDS = Number(args["max-seconds"] ?? (QUICK ? 90 : 420));
const PG_ADMIN_DSN = args["no-pg"] ? null : process.env.TALOS_BENCH_DSN || process.env.TALOS_TEST_DSN || null;
/** the multi-process rows (serve.workers) need PostgreSQL and Redis */
const WORKERS = Number(args.workers ?? availableParallelism());
const REDIS_URL = process.env.TALOS_BENCH_REDIS_URL || process.env.TALOS_TEST_REDIS_URL || "redis://127.0.0.1:6379";
const KEYS = 100;
const HMAC = `bench-hmac-${randomBytes(16).toString("hex")}`;
const ISSUER = "https://bench.talos.local";
const VERIFY = "/v2alpha1/admin/apiKeys:verify";
const BATCH = "/v2alpha1/admin/apiKeys:batchVerify";
/** the closed-loop client of the req/s rows (bench/wrk.ts); autocannon only when wrk is missing */
const WRK = findWrk();

const startedAt = Date.now();
const work = mkdtempSync(`${tmpdir()}/talos-bench-`);
const resultsDir = `${ROOT}/bench/results`;
const procs: Proc[] = [];
const log = (msg: string) => process.stderr.write(`[bench ${((Date.now() - startedAt) / 1000).toFixed(0).padStart(3)}s] ${msg}\n`);

// A run that overstays its budget stops itself: loops are bounded, this bounds the whole.
const watchdog = setTimeout(() => {
  log(`run exceeded ${MAX_SECONDS}s; stopping`);
  for (const p of procs) p.child.kill("SIGKILL");
  process.exit(3);
}, MAX_SECONDS * 1000);
watchdog.unref();

// ---------------------------------------------------------------- types

interface Row {
  id: string;
  title: string;
  db: string;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
  total: number;
  /** rps / baseline rps */
  ratio: number | null;
  /** the load client that produced the row: wrk, autocannon or paced (bench/paced.ts) */
  client: string;
  unit?: string;
  extra?: Record<string, number | string>;
  note?: string;
}

interface Target {
  /** a stable name for --json comparisons */
  id: string;
  target: string;
  measured: string;
  /** the measured ratio (or value) the verdict compares with `threshold` */
  value?: number;
  threshold?: number;
  met: boolean | null;
}

interface Results {
  meta: Record<string, unknown>;
  rows: Row[];
  pgDirect: Record<string, number> | null;
  invalidDbProof: Record<string, unknown> | null;
  cacheMemory: Record<string, number> | null;
  logging: Record<string, number> | null;
  profile: ProfileSummary | null;
  profileIssue?: ProfileSummary & { db: string };
  targets: Target[];
}

const results: Results = { meta: {}, rows: [], pgDirect: null, invalidDbProof: null, cacheMemory: null, logging: null, profile: null, targets: [] };

// ---------------------------------------------------------------- servers

function talosEnv(dsn: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return talosServerEnv({
    TALOS_DB_DSN: dsn,
    TALOS_SECRETS_HMAC_CURRENT: HMAC,
    TALOS_CREDENTIALS_ISSUER: ISSUER,
    TALOS_LOG_LEVEL: "info",
    TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: jwksUrl,
    ...extra,
  });
}

let jwksUrl = "";
async function makeJwks(): Promise<string> {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: "bench-ed25519", use: "sig", alg: "EdDSA" };
  return `base64://${Buffer.from(JSON.stringify({ keys: [jwk] })).toString("base64")}`;
}

async function startTalos(name: string, dsn: string, opts: { nodeArgs?: string[]; env?: Record<string, string>; migrate?: boolean } = {}) {
  const entry = talosEntry();
  const p = await startProcess({
    name,
    dir: work,
    args: [...(opts.nodeArgs ?? []), ...entry.args, "serve", "admin", ...(opts.migrate ? ["--migrate"] : [])],
    env: talosEnv(dsn, opts.env),
    readyLine: TALOS_READY_LINE,
  });
  procs.push(p);
  return { proc: p, url: `http://127.0.0.1:${p.ready[0]}` };
}

async function stop(p: Proc) {
  await p.stop();
  procs.splice(procs.indexOf(p), 1);
}

// ---------------------------------------------------------------- HTTP helpers

async function call(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(base + path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

const issueBody = (i: number) => ({
  name: `bench-key-${i}`,
  actor_id: `user-${i}`,
  scopes: ["keys:read", "keys:write", "billing:read"],
  metadata: { plan: "enterprise", team: "platform", region: "eu-west-1" },
});

/** Issues KEYS keys and imports one; returns the secrets, ids and the imported raw key. */
async function seed(base: string) {
  const secrets: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < KEYS; i++) {
    const r = await call(base, "/v2alpha1/admin/issuedApiKeys", issueBody(i));
    if (r.status !== 201) throw new Error(`issue failed: ${r.status} ${r.text}`);
    secrets.push(r.body.secret as string);
    ids.push(r.body.issued_api_key.key_id as string);
  }
  const rawKey = `sk_live_${randomBytes(24).toString("hex")}`;
  const imp = await call(base, "/v2alpha1/admin/importedApiKeys", { raw_key: rawKey, ...issueBody(KEYS) });
  if (imp.status !== 201) throw new Error(`import failed: ${imp.status} ${imp.text}`);
  return { secrets, ids, rawKey, importedId: (imp.body.key_id ?? imp.body.imported_api_key?.key_id) as string };
}

/** A well-formed issued key whose checksum is wrong (anti-enumeration path, CPU-only rejection). */
function badChecksum(secret: string): string {
  const last = secret.at(-1)!;
  return secret.slice(0, -1) + (last === "2" ? "3" : "2");
}
const GARBAGE = "this-is-not-an-api-key!";

// ---------------------------------------------------------------- load

type Load = Pick<CannonOptions, "requests" | "overallRate"> & { path?: string; body?: string; headers?: Record<string, string> };

async function cannon(url: string, load: Load, seconds: number): Promise<CannonResult> {
  const opts: CannonOptions & { ignoreCoordinatedOmission?: boolean } = {
    url: url + (load.path ?? ""),
    connections: CONNECTIONS,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    method: "POST",
    headers: { "content-type": "application/json", ...load.headers },
    body: load.body,
    requests: load.requests,
    overallRate: load.overallRate,
    // the rate-limited run reports raw latencies (autocannon's correction assumes 1 ms intervals)
    ignoreCoordinatedOmission: load.overallRate ? true : undefined,
  };
  return autocannon(opts);
}

let baselineRps: number | null = null;
/** the bare Hono server, kept up for the paced floor rows */
let baselineUrl: string | null = null;

type Measured = { rps: number; p50: number; p99: number; max: number; errors: number; non2xx: number; total: number; client: string };

function wrkRequests(load: Load): WrkRequest[] {
  if (load.requests) return load.requests.map((r) => ({ path: r.path as string, body: r.body as string, headers: load.headers }));
  return [{ path: load.path ?? "/", body: load.body ?? "", headers: load.headers }];
}

/** One closed-loop run with wrk, or autocannon when wrk is missing or the load is rate-limited. */
async function drive(url: string, load: Load, seconds: number): Promise<Measured> {
  if (WRK && !load.overallRate) {
    // wrk takes whole seconds
    const r = await runWrk({ wrk: WRK, url, requests: wrkRequests(load), connections: CONNECTIONS, seconds: Math.max(1, Math.round(seconds)), scriptPath: `${work}/load.lua` });
    return { rps: r.rps, p50: round(r.p50, 2), p99: round(r.p99, 2), max: round(r.max, 2), errors: r.errors, non2xx: r.non2xx, total: r.requests, client: "wrk" };
  }
  const r = await cannon(url, load, seconds);
  const done = r["2xx"] + r.non2xx;
  return { rps: done / r.duration, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, errors: r.errors + r.timeouts, non2xx: r.non2xx, total: done, client: "autocannon" };
}

async function measure(id: string, title: string, db: string, url: string, load: Load, opts: { warmup?: boolean; perRequest?: number; unit?: string; note?: string } = {}): Promise<Row> {
  if (opts.warmup !== false && WARMUP > 0) await drive(url, load, WARMUP);
  log(`${id}: ${DURATION}s x ${CONNECTIONS} connections${load.overallRate ? ` at ${load.overallRate} req/s` : ""}`);
  const r = await drive(url, load, DURATION);
  const rps = r.rps;
  const row: Row = {
    id,
    title,
    db,
    rps: round(rps, 0),
    p50: r.p50,
    p99: r.p99,
    max: r.max,
    errors: r.errors,
    non2xx: r.non2xx,
    total: r.total,
    ratio: baselineRps ? round(rps / baselineRps, 3) : null,
    client: r.client,
    unit: opts.unit,
    note: opts.note,
  };
  if (opts.perRequest) row.extra = { [`${opts.unit ?? "items"}/s`]: round(rps * opts.perRequest, 0) };
  results.rows.push(row);
  log(`  ${row.rps} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, max ${row.max} ms, errors ${row.errors}, non-2xx ${row.non2xx}`);
  return row;
}

// ---------------------------------------------------------------- PostgreSQL

async function createBenchDatabase(admin: string) {
  const name = `talos_bench_${randomBytes(5).toString("hex")}`;
  const sql = postgres(admin, { max: 1, onnotice: () => {} });
  await sql.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    name,
    dsn: url.toString(),
    /** pg_stat_database counters of the bench database, read from the admin database (its own queries do not count) */
    async counters() {
      const [row] = await sql`select xact_commit::bigint + xact_rollback::bigint as xacts, tup_fetched::bigint as fetched, tup_returned::bigint as returned from pg_stat_database where datname = ${name}`;
      return { xacts: Number(row!.xacts), fetched: Number(row!.fetched), returned: Number(row!.returned) };
    },
    /**
     * Backends publish their statistics late: PostgreSQL 15 flushes a busy backend's counters at
     * most once a second and, once it is idle, within 10 s. Waiting 11 s after the last activity
     * therefore sees everything. (Ending the server's connections would flush at once, but the
     * pool's next query then fails once per dead connection.) --quick waits 1.5 s: it can then
     * over-count (late stats of the seeding), never under-count a run with queries.
     */
    async settled(waitMs = QUICK ? 1500 : 11_000) {
      await sleep(waitMs);
      return this.counters();
    },
    async vacuum() {
      const db = postgres(url.toString(), { max: 1, onnotice: () => {} });
      await db.unsafe("VACUUM ANALYZE api_keys");
      await db.end();
    },
    async drop() {
      await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await sql.end();
    },
  };
}

function runToEnd(name: string, argv: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${name} exited ${code}: ${err.slice(-2000)}`));
    });
  });
}

// ---------------------------------------------------------------- scenarios

async function embeddedScenarios() {
  const { proc, url } = await startTalos("talos-embedded", "memory");
  const seeded = await seed(url);
  const body = (credential: string) => JSON.stringify({ credential });
  const verifyAll = seeded.secrets.map((s) => ({ method: "POST", path: VERIFY, body: body(s) }));
  for (const s of seeded.secrets) await call(url, VERIFY, { credential: s }); // warm the cache
  const sample = await call(url, VERIFY, { credential: seeded.secrets[0] });
  if (sample.headers.get("ory-talos-cache") !== "HIT" || sample.body.is_valid !== true) throw new Error(`warm verify is not a valid cache hit: ${sample.text}`);

  // baseline: same body, same response size, bare Hono
  const baseline = await startProcess({
    name: "baseline",
    dir: work,
    args: ["--import", "tsx", `${ROOT}/bench/baseline-server.ts`],
    env: { PATH: process.env.PATH, NODE_ENV: "production", BASELINE_TEMPLATE: sample.text },
    readyLine: /BASELINE_PORT (\d+)/,
  });
  procs.push(baseline);
  const baseUrl = `http://127.0.0.1:${baseline.ready[0]}`;
  const probe = await call(baseUrl, VERIFY, { credential: seeded.secrets[0] });
  if (probe.text.length !== sample.text.length) throw new Error(`baseline body is ${probe.text.length} bytes, verify ${sample.text.length}`);
  const b = await measure("baseline", "baseline: bare Hono, same body and response size", "-", baseUrl, { requests: verifyAll });
  baselineRps = b.rps;
  b.ratio = 1;
  baselineUrl = baseUrl; // stopped with the other processes at the end

  const logBefore = fileSize(proc.stdoutPath);
  const warm = await measure("verify_warm", "verify, issued key, cache warm", "embedded", url, { requests: verifyAll });
  results.logging = { bytesPerRequest: round((fileSize(proc.stdoutPath) - logBefore) / Math.max(1, warm.total), 0) };
  const half = Math.max(1, Math.floor(warm.rps / 2));
  await pacedRow("verify_warm_50pct_paced", `verify, cache warm, 50% of max (${half} req/s) evenly paced, open loop`, "embedded", url, half, verifyAll);
  await pacedFloor("verify_warm_50pct_paced", half, verifyAll);
  await measure("verify_nocache_embedded", "verify, cache bypassed (no-cache)", "embedded", url, { requests: verifyAll, headers: { "cache-control": "no-cache" } });
  await measure("verify_imported", "verify, imported key, cache warm", "embedded", url, { path: VERIFY, body: body(seeded.rawKey) });
  if (!PG_ADMIN_DSN) {
    await measure("verify_invalid_checksum", "verify, well-formed key with a bad checksum", "embedded", url, { path: VERIFY, body: body(badChecksum(seeded.secrets[0]!)) });
    await measure("verify_invalid_garbage", "verify, garbage string (routes as imported)", "embedded", url, { path: VERIFY, body: body(GARBAGE) });
  }
  const batchBody = JSON.stringify({ requests: seeded.secrets.map((credential) => ({ credential })) });
  const batchProbe = await call(url, BATCH, JSON.parse(batchBody));
  if (batchProbe.headers.get("ory-talos-cache") !== "HIT") throw new Error(`batchVerify is not all hits: ${batchProbe.headers.get("ory-talos-cache")}`);
  await measure("batch_verify_100", "batchVerify, 100 warm keys per request", "embedded", url, { path: BATCH, body: batchBody }, { perRequest: KEYS, unit: "credentials" });
  await writeRows("embedded", url);

  const derive = await call(url, "/v2alpha1/admin/apiKeys:derive", { credential: seeded.secrets[0] });
  if (derive.status === 200) {
    await measure("derive_jwt", "derive a JWT (Ed25519)", "embedded", url, { path: "/v2alpha1/admin/apiKeys:derive", body: body(seeded.secrets[0]!) });
  } else {
    const reason = `n/a: derive answered ${derive.status} ${(derive.body.error?.message as string | undefined) ?? derive.text.slice(0, 80)}`;
    log(`derive_jwt ${reason}`);
    results.rows.push({ id: "derive_jwt", title: "derive a JWT (Ed25519)", db: "embedded", rps: 0, p50: 0, p99: 0, max: 0, errors: 0, non2xx: 0, total: 0, ratio: null, client: "-", note: reason });
  }
  await stop(proc);
}

/**
 * Write throughput (issue, import, revoke), each acknowledged after its commit. Revoke needs a
 * fresh key per request: keys are imported beforehand in batches of 1000, sized from the import
 * row's rate; a run that used them all up shows 409s in its non-2xx column (a lower bound then).
 */
async function writeRows(db: string, url: string) {
  const suffix = db === "embedded" ? "" : `_${db}`;
  await measure(`issue${suffix}`, "issue a key", db, url, { path: "/v2alpha1/admin/issuedApiKeys", body: JSON.stringify(issueBody(0)) });
  const importBody = JSON.stringify({ ...issueBody(0), raw_key: `sk_bench_${SEQ}` });
  const imp = await measure(`import${suffix}`, "import a key (a new raw key each request)", db, url, { path: "/v2alpha1/admin/importedApiKeys", body: importBody });
  const need = Math.min(200_000, Math.max(2000, Math.ceil(imp.rps * 2 * (DURATION + WARMUP))));
  const ids: string[] = [];
  for (let made = 0; made < need; made += 1000) {
    const batch = Array.from({ length: 1000 }, () => ({ ...issueBody(0), raw_key: `sk_revoke_${randomBytes(16).toString("hex")}` }));
    const r = await call(url, "/v2alpha1/admin/importedApiKeys:batchCreate", { requests: batch });
    if (r.status !== 200 || r.body.failure_count !== 0) throw new Error(`revoke seeding failed: ${r.status} ${r.text.slice(0, 300)}`);
    for (const item of r.body.results as { imported_api_key: { key_id: string } }[]) ids.push(item.imported_api_key.key_id);
  }
  const revokes = ids.map((id) => ({ method: "POST", path: `/v2alpha1/admin/importedApiKeys/${id}:revoke`, body: "{}" }));
  if (!WRK) return log("revoke row skipped: autocannon repeats a request list per connection (install wrk)");
  // the warm-up gets its own keys: wrk starts each run at the first request of its list
  const warmKeys = Math.ceil(revokes.length * (WARMUP / (DURATION + WARMUP)));
  if (WARMUP > 0) await drive(url, { requests: revokes.slice(0, warmKeys) }, WARMUP);
  log(`revoke: ${revokes.length - warmKeys} imported keys left to revoke`);
  await measure(`revoke${suffix}`, "revoke a key (each key once)", db, url, { requests: revokes.slice(warmKeys) }, { warmup: false });
}

/** An open-loop run at an even `rate` (bench/paced.ts), as a result row. */
async function pacedRow(id: string, title: string, db: string, url: string, rate: number, requests: { path: string; body: string }[]) {
  log(`${id}: ${DURATION}s at an even ${rate} req/s`);
  const pacedRequests = requests.map((r) => ({ path: r.path, body: r.body }));
  // its own warm-up: node:http's client in this process is cold (autocannon has its own)
  if (WARMUP > 0) await paced({ url, rate, seconds: Math.max(WARMUP, 2), connections: CONNECTIONS, requests: pacedRequests });
  const p = await paced({ url, rate, seconds: DURATION, connections: CONNECTIONS, requests: pacedRequests });
  results.rows.push({
    id,
    title,
    db,
    rps: p.rps,
    p50: p.p50,
    p99: p.p99,
    max: p.max,
    errors: p.errors,
    non2xx: p.non2xx,
    total: p.completed,
    ratio: baselineRps ? round(p.rps / baselineRps, 3) : null,
    client: "paced",
    extra: { "skipped (server behind)": p.skipped, "ms client send lateness p99": p.sendLateP99 },
  });
  log(`  ${p.rps} req/s, p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms, errors ${p.errors}, skipped ${p.skipped}`);
}

/**
 * The same paced run against the bare Hono baseline: the latency floor of this client, kernel and
 * machine at that rate, so a verify p99 can be told apart from the environment's own tail.
 */
async function pacedFloor(of: string, rate: number, requests: { path: string; body: string }[]) {
  if (!baselineUrl) return;
  await pacedRow(`${of}_baseline`, `baseline (bare Hono) at the same even ${rate} req/s: the floor for ${of}`, "-", baselineUrl, rate, requests);
}

/**
 * The verify rows again on `serve.workers` processes (one per core by default) sharing the port:
 * PostgreSQL and the Redis rate limiter, as the configuration requires for more than one worker.
 */
async function workersScenarios(dsn: string, secrets: string[]) {
  if (WORKERS < 2) return log("workers rows skipped: --workers below 2");
  if (!(await reachable(REDIS_URL))) return log(`workers rows skipped: no Redis at ${REDIS_URL} (set TALOS_BENCH_REDIS_URL)`);
  const redis = new URL(REDIS_URL);
  const { proc, url } = await startTalos("talos-workers", dsn, {
    env: { TALOS_SERVE_WORKERS: String(WORKERS), TALOS_RATE_LIMIT_BACKEND: "redis", TALOS_CACHE_REDIS_ADDRS: `${redis.hostname}:${redis.port || "6379"}` },
  });
  const verifyAll = secrets.map((s) => ({ method: "POST", path: VERIFY, body: JSON.stringify({ credential: s }) }));
  const db = `postgres, ${WORKERS} workers`;
  // the warm-up spreads its connections over every worker, filling each one's cache
  const warm = await measure("verify_warm_workers", `verify, issued key, cache warm, ${WORKERS} worker processes`, db, url, { requests: verifyAll });
  const half = Math.max(1, Math.floor(warm.rps / 2));
  await pacedRow("verify_warm_workers_50pct_paced", `verify, cache warm, ${WORKERS} workers, 50% of max (${half} req/s) evenly paced, open loop`, db, url, half, verifyAll);
  await pacedFloor("verify_warm_workers_50pct_paced", half, verifyAll);
  await measure("verify_nocache_workers", `verify, cache bypassed (no-cache), ${WORKERS} worker processes`, db, url, { requests: verifyAll, headers: { "cache-control": "no-cache" } });
  await stop(proc);
}

async function reachable(u: string): Promise<boolean> {
  const { hostname, port } = new URL(u);
  return new Promise((resolve) => {
    const s = connect({ host: hostname, port: Number(port || "6379") });
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.once("connect", () => (s.end(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/**
 * A scenario run once more under the CPU profiler (not a measured row): verify with a warm cache,
 * and issue (the write path) on PostgreSQL when a DSN is given, else on the embedded database.
 */
async function profile(kind: "verify" | "issue") {
  if (args["no-profile"] || QUICK) return;
  const profDir = `${work}/prof-${kind}`;
  mkdirSync(profDir);
  let db = "memory";
  let dropDb: (() => Promise<void>) | null = null;
  if (kind === "issue" && PG_ADMIN_DSN) {
    const d = await createBenchDatabase(PG_ADMIN_DSN);
    db = d.dsn;
    dropDb = () => d.drop();
  }
  try {
    const { proc, url } = await startTalos(`talos-profiled-${kind}`, db, { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profDir}`], migrate: dropDb !== null });
    let load: Load;
    if (kind === "verify") {
      const seeded = await seed(url);
      for (const s of seeded.secrets) await call(url, VERIFY, { credential: s });
      load = { requests: seeded.secrets.map((s) => ({ method: "POST", path: VERIFY, body: JSON.stringify({ credential: s }) })) };
    } else load = { path: "/v2alpha1/admin/issuedApiKeys", body: JSON.stringify(issueBody(0)) };
    log(`profile: ${kind} (${dropDb ? "postgres" : kind === "verify" ? "cache warm" : "embedded"}) under --cpu-prof for ${PROFILE_SECONDS}s (not a measured row)`);
    const loadStarted = Date.now();
    await drive(url, load, PROFILE_SECONDS);
    const code = await proc.stop();
    const windowMs = Date.now() - loadStarted;
    procs.splice(procs.indexOf(proc), 1);
    // one profile per thread (tsx's loader runs in a worker): the main thread's is the largest
    const file = readdirSync(profDir)
      .filter((f) => f.endsWith(".cpuprofile"))
      .map((f) => ({ f, size: fileSize(`${profDir}/${f}`) }))
      .sort((a, b) => b.size - a.size)[0]?.f;
    if (code !== 0 || !file) {
      log(`profile: server exited ${code}, no profile written`);
      return;
    }
    const summary = summarise(`${profDir}/${file}`, 15, windowMs);
    if (kind === "verify") results.profile = summary;
    else results.profileIssue = { db: dropDb ? "postgres" : "embedded", ...summary };
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(`${resultsDir}/latest-${kind}.cpuprofile`, readFileSync(`${profDir}/${file}`));
  } finally {
    await dropDb?.();
  }
}

async function postgresScenarios(admin: string) {
  const db = await createBenchDatabase(admin);
  log(`postgres: database ${db.name}`);
  try {
    // The zero-round-trip proof counts every transaction of the bench database, so the server's
    // timed database work must not fall into a counted window: the last-used and usage flushes
    // (last_used.flush_interval, default 30s, would flush the warm-ups' verifies during the first
    // window) run every second instead, done before the 11 s settle ends; the expiry scan and
    // retention pruning (events.scan_interval, default 1m) run once at start and not again.
    const { proc, url } = await startTalos("talos-postgres", db.dsn, {
      migrate: true,
      env: { TALOS_LAST_USED_FLUSH_INTERVAL: "1s", TALOS_EVENTS_SCAN_INTERVAL: "1h" },
    });
    const seeded = await seed(url);
    const body = (credential: string) => JSON.stringify({ credential });
    const proof: Record<string, unknown> = {};

    const bad = badChecksum(seeded.secrets[0]!);
    const nocache = seeded.secrets.map((sec) => ({ method: "POST", path: VERIFY, body: body(sec) }));
    const scenarios: { id: string; title: string; load: Load; expect: (r: Awaited<ReturnType<typeof call>>) => boolean }[] = [
      {
        id: "verify_invalid_checksum",
        title: "verify, well-formed key with a bad checksum",
        load: { path: VERIFY, body: body(bad) },
        expect: (r) => r.body.error_code === "VERIFICATION_ERROR_NOT_FOUND" && r.headers.get("ory-talos-cache") === "SKIP",
      },
      {
        id: "verify_invalid_garbage",
        title: "verify, garbage string (routes as imported: one lookup by spec)",
        load: { path: VERIFY, body: body(GARBAGE) },
        expect: (r) => r.body.error_code === "VERIFICATION_ERROR_NOT_FOUND",
      },
      {
        id: "verify_nocache_postgres",
        title: "verify, cache bypassed (no-cache)",
        load: { requests: nocache, headers: { "cache-control": "no-cache" } },
        expect: (r) => r.body.is_valid === true && r.headers.get("ory-talos-cache") === "SKIP",
      },
    ];
    // probes and warm-ups first, so the counted windows hold nothing but the measured runs
    for (const sc of scenarios) {
      const one = await call(url, VERIFY, JSON.parse(sc.load.body ?? (sc.load.requests?.[0]?.body as string)), sc.load.headers);
      if (!sc.expect(one)) throw new Error(`${sc.id}: unexpected probe response ${one.headers.get("ory-talos-cache")} ${one.text}`);
      if (WARMUP > 0) await drive(url, sc.load, WARMUP);
    }
    await db.vacuum(); // so autovacuum/analyze has nothing to do during the counted runs
    let before = await db.settled();
    for (const sc of scenarios) {
      const row = await measure(sc.id, sc.title, "postgres", url, sc.load, { warmup: false });
      // a run without queries leaves nothing to flush; any other run is read after the idle flush
      const zeroSoFar = (await db.counters()).xacts === before.xacts;
      const after = zeroSoFar ? await db.counters() : await db.settled();
      const xacts = after.xacts - before.xacts;
      proof[sc.id] = {
        requests: row.total,
        xactDelta: xacts,
        tupFetchedDelta: after.fetched - before.fetched,
        queriesPerVerify: round(xacts / Math.max(1, row.total), 4),
      };
      row.extra = { ...row.extra, "queries/verify": round(xacts / Math.max(1, row.total), 4) };
      before = after;
    }
    results.invalidDbProof = proof;
    await writeRows("postgres", url); // after the proof: writes are transactions
    await stop(proc);

    log(`pg-direct: postgres.js alone, ${CONNECTIONS} in flight, pool 10`);
    const out = await runToEnd(
      "pg-direct",
      ["--import", "tsx", `${ROOT}/bench/pg-direct.ts`, "--dsn", db.dsn, "--keys", seeded.ids.join(","), "--concurrency", String(CONNECTIONS), "--pool", "10", "--duration", String(DURATION), "--warmup", String(WARMUP)],
      (DURATION + WARMUP + 30) * 1000,
    );
    const m = /PG_DIRECT (.*)/.exec(out);
    if (!m) throw new Error(`pg-direct printed no result: ${out}`);
    results.pgDirect = JSON.parse(m[1]!) as Record<string, number>;
    log(`  ${results.pgDirect.lookupsPerSec} lookups/s, p50 ${results.pgDirect.p50} ms, p99 ${results.pgDirect.p99} ms`);
    await workersScenarios(db.dsn, seeded.secrets);
  } finally {
    await db.drop();
  }
}

async function cacheMemory() {
  // --quick measures fewer entries and scales; the target is judged on a full run only
  const n = args["cache-entries"] ?? (QUICK ? "50000" : "1000000");
  log(`cache memory: ${n} entries`);
  const out = await runToEnd("cache-memory", ["--expose-gc", "--conditions=development", "--import", "tsx", `${ROOT}/bench/cache-memory.ts`, "--entries", n], 180_000);
  const m = /CACHE_MEMORY (.*)/.exec(out);
  if (!m) throw new Error(`cache-memory printed no result: ${out}`);
  results.cacheMemory = JSON.parse(m[1]!) as Record<string, number>;
  log(`  heapUsed +${results.cacheMemory.heapUsedDeltaMiB} MiB (${results.cacheMemory.bytesPerEntry} B/entry)`);
}

// ---------------------------------------------------------------- report

function judge() {
  const row = (id: string) => results.rows.find((r) => r.id === id);
  const t: Target[] = [];
  const atLeast = (id: string, target: string, value: number, threshold: number, measured: string) => t.push({ id, target, measured, value: round(value, 3), threshold, met: value >= threshold });
  const warm = row("verify_warm");
  if (warm?.ratio != null) atLeast("verify_warm", "verify, cache warm, one process: ≥ 0.75 × bare Hono req/s", warm.ratio, 0.75, `${warm.ratio} × (${warm.rps} vs ${baselineRps} req/s, ${warm.client})`);
  const ww = row("verify_warm_workers");
  if (ww?.ratio != null) atLeast("verify_warm_workers", `verify, cache warm, ${WORKERS} worker processes: ≥ 0.75 × bare Hono req/s`, ww.ratio, 0.75, `${ww.ratio} × (${ww.rps} vs ${baselineRps} req/s, ${ww.client})`);
  // tails relative to the floor: the same paced client at the same even rate against bare Hono
  for (const [id, who] of [["verify_warm_50pct_paced", "one process"], ["verify_warm_workers_50pct_paced", `${WORKERS} worker processes`]] as const) {
    const half = row(id);
    const floor = row(`${id}_baseline`);
    if (!half || !floor) continue;
    const r = floor.p99 > 0 ? half.p99 / floor.p99 : Number.POSITIVE_INFINITY;
    const clean = half.errors === 0 && half.extra?.["skipped (server behind)"] === 0;
    t.push({
      id: `${id}_p99_vs_floor`,
      target: `verify, cache warm, ${who}: p99 at 50% of max ≤ 1.5 × bare Hono's p99 at the same even rate`,
      measured: `${round(r, 2)} × (p99 ${half.p99} ms vs ${floor.p99} ms at ${half.rps} req/s)${clean ? "" : "; the run had errors or fell behind"}`,
      value: round(r, 3),
      threshold: 1.5,
      met: r <= 1.5 && clean,
    });
  }
  const pg = row("verify_nocache_postgres");
  const direct = results.pgDirect?.lookupsPerSec;
  if (pg && direct) atLeast("verify_nocache_postgres", "verify, cache bypassed on PostgreSQL: ≥ 0.6 × postgres.js alone", pg.rps / direct, 0.6, `${round(pg.rps / direct, 3)} × (${pg.rps} req/s vs ${direct} lookups/s)`);
  else t.push({ id: "verify_nocache_postgres", target: "verify, cache bypassed on PostgreSQL: ≥ 0.6 × postgres.js alone", measured: "n/a (no PostgreSQL DSN)", met: null });
  const wn = row("verify_nocache_workers");
  if (wn && direct) atLeast("verify_nocache_workers", `verify, cache bypassed on PostgreSQL, ${WORKERS} worker processes: ≥ 0.6 × postgres.js alone`, wn.rps / direct, 0.6, `${round(wn.rps / direct, 3)} × (${wn.rps} req/s vs ${direct} lookups/s)`);
  const batch = row("batch_verify_100");
  if (batch) {
    const creds = batch.rps * KEYS;
    t.push({ id: "batch_verify_100", target: "batchVerify of 100 warm keys: ≥ 20,000 credentials/s", measured: `${creds} credentials/s`, value: creds, threshold: 20_000, met: creds >= 20_000 });
  }
  const proof = results.invalidDbProof as Record<string, { queriesPerVerify: number; xactDelta: number; requests: number }> | null;
  if (proof?.verify_invalid_checksum) {
    const p = proof.verify_invalid_checksum;
    t.push({
      id: "invalid_zero_db",
      target: "invalid credential: zero DB round trips",
      measured: `queries per invalid verify: ${p.queriesPerVerify} (pg_stat_database Δxact ${p.xactDelta} over ${p.requests} bad-checksum verifies)`,
      value: p.xactDelta,
      threshold: 0,
      met: p.xactDelta === 0,
    });
  } else t.push({ id: "invalid_zero_db", target: "invalid credential: zero DB round trips", measured: "n/a (no PostgreSQL DSN to observe)", met: null });
  const mem = results.cacheMemory;
  if (mem) {
    const projected = mem.entries! < 1_000_000 ? ` → ${round((mem.bytesPerEntry! * 1_000_000) / 2 ** 20, 0)} MiB projected for 1,000,000 (judged on a full run)` : "";
    t.push({
      id: "cache_memory",
      target: "1,000,000 cached keys < 512 MiB heap",
      measured: `${mem.heapUsedDeltaMiB} MiB for ${mem.entries} entries (${mem.bytesPerEntry} B/entry)${projected}`,
      value: round((mem.bytesPerEntry! * 1_000_000) / 2 ** 20, 1),
      threshold: 512,
      met: mem.entries! >= 1_000_000 ? mem.heapUsedDeltaBytes! < 512 * 2 ** 20 : null,
    });
  }
  results.targets = t;
}

/** `--json`: one line per target, for comparing runs mechanically. */
function jsonSummary(): string {
  return results.targets.map((t) => JSON.stringify({ target: t.id, value: t.value ?? null, threshold: t.threshold ?? null, met: t.met, commit: results.meta.commit })).join("\n") + "\n";
}

function markdown(): string {
  const m = results.meta;
  const L: string[] = [];
  L.push(`### Run ${m.timestamp as string}`, "");
  L.push(`${m.cpus as number} CPUs (${m.cpuModel as string}), ${m.memGiB as number} GiB, node ${m.node as string}, server: ${m.server as string}, load client: ${m.client as string}, ${CONNECTIONS} connections, pipelining 1, ${DURATION} s per scenario after ${WARMUP} s warm-up${QUICK ? " (--quick)" : ""}. Load average (1/5/15 min) at start ${(m.loadavgStart as number[]).join(" / ")}, at end ${(m.loadavgEnd as number[]).join(" / ")}.`, "");
  L.push("| scenario | db | client | req/s | × baseline | p50 ms | p99 ms | max ms | errors | non-2xx | notes |", "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const r of results.rows) {
    const extra = r.extra ? Object.entries(r.extra).map(([k, v]) => `${v} ${k}`).join("; ") : "";
    const notes = [extra, r.note ?? ""].filter(Boolean).join("; ");
    if (r.total === 0 && r.note) L.push(`| ${r.title} | ${r.db} | ${r.client} | n/a | | | | | | | ${notes} |`);
    else L.push(`| ${r.title} | ${r.db} | ${r.client} | ${r.rps} | ${r.ratio ?? ""} | ${r.p50} | ${r.p99} | ${r.max} | ${r.errors} | ${r.non2xx} | ${notes} |`);
  }
  if (results.pgDirect) {
    const p = results.pgDirect;
    L.push(`| postgres.js alone, same PK lookup (not HTTP) | postgres | bench/pg-direct.ts | ${p.lookupsPerSec} lookups/s | | ${p.p50} | ${p.p99} | ${p.max} | ${p.errors} | | ${p.concurrency} in flight, pool ${p.pool} |`);
  }
  L.push("");
  if (results.cacheMemory) {
    const c = results.cacheMemory;
    L.push(`Cache memory: ${c.entries} realistic records → heapUsed +${c.heapUsedDeltaMiB} MiB (${c.bytesPerEntry} B/entry), RSS +${c.rssDeltaMiB} MiB, filled in ${c.fillSeconds} s.`, "");
  }
  if (results.logging) L.push(`Request log: ${JSON.stringify(results.logging)}`, "");
  if (results.invalidDbProof) L.push(`DB round trips (pg_stat_database deltas of the bench database): ${JSON.stringify(results.invalidDbProof)}`, "");
  L.push("| target | measured | met |", "| --- | --- | --- |");
  for (const t of results.targets) L.push(`| ${t.target} | ${t.measured} | ${t.met === null ? "n/a" : t.met ? "yes" : "**no**"} |`);
  if (results.profile) L.push("", "Profile of the server during verify (cache warm), top frames by self time:", "", formatSummary(results.profile));
  if (results.profileIssue) L.push("", `Profile of the server during issue (${results.profileIssue.db}), top frames by self time:`, "", formatSummary(results.profileIssue));
  return L.join("\n") + "\n";
}

function compare(file: string) {
  const old = JSON.parse(readFileSync(file, "utf8")) as Results;
  const pct = (a: number, b: number) => (b === 0 ? "" : `${a >= b ? "+" : ""}${round((100 * (a - b)) / b, 1)}%`);
  const L = [`Compared with ${file} (${old.meta.timestamp as string}):`, "", "| scenario | req/s then → now | Δ | p99 then → now |", "| --- | ---: | ---: | ---: |"];
  for (const r of results.rows) {
    const o = old.rows.find((x) => x.id === r.id);
    if (!o || o.total === 0 || r.total === 0) continue;
    L.push(`| ${r.id} | ${o.rps} → ${r.rps} | ${pct(r.rps, o.rps)} | ${o.p99} → ${r.p99} |`);
  }
  if (old.pgDirect && results.pgDirect) L.push(`| pg_direct (lookups/s) | ${old.pgDirect.lookupsPerSec} → ${results.pgDirect.lookupsPerSec} | ${pct(results.pgDirect.lookupsPerSec!, old.pgDirect.lookupsPerSec!)} | ${old.pgDirect.p99} → ${results.pgDirect.p99} |`);
  // bytes per entry: --quick fills fewer entries than a full run
  if (old.cacheMemory && results.cacheMemory) L.push(`| cache heap B/entry | ${old.cacheMemory.bytesPerEntry} → ${results.cacheMemory.bytesPerEntry} | ${pct(results.cacheMemory.bytesPerEntry!, old.cacheMemory.bytesPerEntry!)} | |`);
  return L.join("\n") + "\n";
}

// ---------------------------------------------------------------- main

async function main() {
  jwksUrl = await makeJwks();
  const entry = talosEntry();
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  let commit = "";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
  } catch {
    commit = "unknown";
  }
  let free = "";
  try {
    free = execFileSync("free", ["-h"]).toString().split("\n")[1]?.trim() ?? "";
  } catch {
    free = "";
  }
  results.meta = {
    timestamp: new Date().toISOString(),
    quick: QUICK,
    commit,
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? "",
    memGiB: round(totalmem() / 2 ** 30, 1),
    free,
    server: entry.kind === "dist" ? "node packages/cli/dist/main.js (build)" : "node packages/cli/bin/talos.mjs (sources via tsx)",
    client: WRK ? "wrk, 1 thread (closed loop); bench/paced.ts for the paced rows" : "autocannon in the bench process (wrk not installed); bench/paced.ts for the paced rows",
    connections: CONNECTIONS,
    pipelining: 1,
    durationS: DURATION,
    warmupS: WARMUP,
    postgres: PG_ADMIN_DSN ? "yes" : "no",
    loadavgStart: loadavg().map((x) => round(x, 1)),
  };
  if (!WRK) log("!!! wrk is not installed (apt-get install wrk): the req/s rows fall back to autocannon in this process, which competes with the server for the CPU and understates it");
  log(`server: ${results.meta.server as string}; ${CONNECTIONS} connections, ${DURATION}s per scenario, ${WARMUP}s warm-up; PostgreSQL: ${PG_ADMIN_DSN ? "yes" : "no"}`);

  await embeddedScenarios();
  if (PG_ADMIN_DSN) await postgresScenarios(PG_ADMIN_DSN);
  else log("PostgreSQL scenarios skipped: set TALOS_BENCH_DSN (or TALOS_TEST_DSN) to run them");
  await profile("verify");
  await profile("issue");
  await cacheMemory();
  results.meta.loadavgEnd = loadavg().map((x) => round(x, 1));
  judge();

  const md = markdown();
  mkdirSync(resultsDir, { recursive: true });
  const json = JSON.stringify(results, null, 2);
  writeFileSync(`${resultsDir}/${stamp}.json`, json);
  writeFileSync(`${resultsDir}/${stamp}.md`, md);
  writeFileSync(`${resultsDir}/latest.json`, json);
  process.stdout.write(args.json ? jsonSummary() : `\n${md}\n`);
  if (args.compare) {
    if (!existsSync(args.compare)) throw new Error(`--compare: ${args.compare} not found`);
    process.stdout.write(`${compare(args.compare)}\n`);
  }
  log(`wrote bench/results/${stamp}.json, .md and latest.json (${round((Date.now() - startedAt) / 1000, 0)} s)`);
}

try {
  await main();
} finally {
  for (const p of [...procs]) await p.stop(5000).catch(() => null);
  rmSync(work, { recursive: true, force: true });
  clearTimeout(watchdog);
}
