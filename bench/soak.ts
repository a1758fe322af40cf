/**
 * Soak (issue 12): a real `talos serve` under a steady, paced mix of verify, issue, rotate and
 * revoke for N minutes. It reads the server's /metrics (RSS, V8 heap, event-loop delay, database
 * pool) every few seconds and prints a row per minute; it exits 1 when memory (RSS or V8 heap
 * used, a least-squares line through every sample after warm-up) grew more than 10 %, or when
 * the process died.
 *
 *   npm run soak -- --minutes 10 [--rate 200] [--warmup 2] [--keys 200]
 *
 * Embedded database (pglite:// in a temp dir) by default; PostgreSQL in a fresh database when
 * TALOS_SOAK_DSN or TALOS_TEST_DSN is set. Traffic goes to 127.0.0.1 only.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { percentiles } from "./stats.js";
import { startProcess, TALOS_READY_LINE, talosEntry, talosServerEnv, type Proc } from "./proc.js";
import { freshDatabase } from "../test/support/postgres.js";

const { values: args } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    rate: { type: "string", default: "200" },
    warmup: { type: "string", default: "2" },
    keys: { type: "string", default: "200" },
    "sample-seconds": { type: "string", default: "5" },
  },
});
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate);
const WARMUP = Number(args.warmup);
const KEYS = Number(args.keys);
const SAMPLE_S = Number(args["sample-seconds"]);
const LIMIT = 0.1;
const MAX_IN_FLIGHT = 64;
const A = "/v2alpha1/admin";
if (!(MINUTES > WARMUP && WARMUP >= 0 && RATE > 0 && RATE <= 2000)) {
  console.error("usage: npm run soak -- --minutes N (N > --warmup, default 2) [--rate 1..2000 req/s, default 200]");
  process.exit(2);
}

const PG = process.env.TALOS_SOAK_DSN || process.env.TALOS_TEST_DSN || "";
const work = mkdtempSync(`${tmpdir()}/talos-soak-`);
let proc: Proc | undefined;
let dropDb = async () => {};

async function freshPgDatabase(adminDsn: string): Promise<string> {
  const db = await freshDatabase("talos_soak", adminDsn);
  dropDb = () => db.drop().catch(() => {});
  return db.dsn;
}

function jwksUrl(): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = { ...privateKey.export({ format: "jwk" }), kid: "soak", use: "sig", alg: "EdDSA" };
  return `base64://${Buffer.from(JSON.stringify({ keys: [jwk] })).toString("base64")}`;
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });
function post(port: number, path: string, body: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve) => {
    const data = Buffer.from(JSON.stringify(body));
    const r = request(
      { host: "127.0.0.1", port, path, method: "POST", agent, headers: { "content-type": "application/json", "content-length": data.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          let json: any;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    r.setTimeout(30_000, () => r.destroy(new Error("timeout")));
    r.on("error", () => resolve({ status: 0, json: null }));
    r.end(data);
  });
}

/** The figures of one /metrics scrape this script reports. */
interface Sample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  lagP99: number;
  lagMax: number;
  dbInFlight: number;
  dbPoolMax: number;
  dbErrors: number;
}
async function scrape(metricsUrl: string): Promise<Sample> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const get = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, "m").exec(text);
    return m ? Number(m[1]) : NaN;
  };
  return {
    rss: get("process_resident_memory_bytes"),
    heapUsed: get("nodejs_heap_size_used_bytes"),
    heapTotal: get("nodejs_heap_size_total_bytes"),
    external: get("nodejs_external_memory_bytes"),
    lagP99: get("nodejs_eventloop_lag_p99_seconds"),
    lagMax: get("nodejs_eventloop_lag_max_seconds"),
    dbInFlight: get("talos_db_in_flight"),
    dbPoolMax: get("talos_db_pool_max_connections"),
    dbErrors: get("talos_db_errors"),
  };
}

interface Minute {
  minute: number;
  sent: number;
  errors: number;
  non2xx: number;
  skipped: number;
  latencies: number[];
  samples: Sample[];
}

async function main(): Promise<number> {
  const dsn = PG ? await freshPgDatabase(PG) : `pglite://${work}/db`;
  const entry = talosEntry();
  proc = await startProcess({
    name: "talos-soak",
    dir: work,
    args: [...entry.args, "serve", "--migrate"],
    env: talosServerEnv({
      TALOS_DB_DSN: dsn,
      TALOS_SECRETS_HMAC_CURRENT: `soak-hmac-${randomBytes(16).toString("hex")}`,
      TALOS_CREDENTIALS_ISSUER: "https://soak.talos.local",
      TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: jwksUrl(),
      TALOS_LOG_LEVEL: "warn",
    }),
    readyLine: TALOS_READY_LINE,
    timeoutMs: 180_000,
  });
  const port = Number(proc.ready[0]);
  const metricsUrl = `http://127.0.0.1:${proc.ready[1]}`;
  let died = false;
  void proc.exited.then(() => (died = true));
  console.log(
    `soak: ${MINUTES} min at ${RATE} req/s on ${PG ? "PostgreSQL" : "the embedded database"} (${entry.kind}), warm-up ${WARMUP} min, pid ${proc.child.pid}, logs in ${work}`,
  );

  // the working set: KEYS active keys; issue/rotate/revoke replace members, so the set (and the verification cache) stays bounded
  const keys: { id: string; secret: string }[] = [];
  const issue = async () => {
    const r = await post(port, `${A}/issuedApiKeys`, {
      name: "soak",
      actor_id: "soak",
      scopes: ["read"],
      rate_limit_policy: { quota: "1000000", window: "60s" },
    });
    return r.status === 201 ? { id: r.json.issued_api_key.key_id as string, secret: r.json.secret as string } : null;
  };
  while (keys.length < KEYS) {
    const k = await issue();
    if (!k) throw new Error("soak set-up: issue failed");
    keys.push(k);
  }

  const ops: { weight: number; run: () => Promise<number> }[] = [
    {
      weight: 94,
      run: async () => (await post(port, `${A}/apiKeys:verify`, { credential: keys[Math.floor(Math.random() * keys.length)]!.secret })).status,
    },
    // writes take their key out of the set first, so two writes never race on one key
    {
      weight: 2,
      run: async () => {
        const old = keys.splice(Math.floor(Math.random() * keys.length), 1)[0]!;
        const k = await issue();
        keys.push(k ?? old);
        if (!k) return 500;
        return (await post(port, `${A}/issuedApiKeys/${old.id}:revoke`, { reason: "REVOCATION_REASON_SUPERSEDED" })).status;
      },
    },
    {
      weight: 2,
      run: async () => {
        const old = keys.splice(Math.floor(Math.random() * keys.length), 1)[0]!;
        const r = await post(port, `${A}/issuedApiKeys/${old.id}:rotate`, {});
        keys.push(r.status === 201 ? { id: r.json.issued_api_key.key_id, secret: r.json.secret } : old);
        return r.status;
      },
    },
    {
      weight: 2,
      run: async () => {
        const old = keys.splice(Math.floor(Math.random() * keys.length), 1)[0]!;
        const r = await post(port, `${A}/issuedApiKeys/${old.id}:revoke`, {});
        const k = await issue();
        keys.push(k ?? old);
        return k ? r.status : 500;
      },
    },
  ];
  const totalWeight = ops.reduce((n, o) => n + o.weight, 0);
  const pick = () => {
    let x = Math.random() * totalWeight;
    for (const o of ops) if ((x -= o.weight) < 0) return o;
    return ops[0]!;
  };

  const minutes: Minute[] = [];
  let cur: Minute = { minute: 1, sent: 0, errors: 0, non2xx: 0, skipped: 0, latencies: [], samples: [] };
  minutes.push(cur);
  let inFlight = 0;
  const started = performance.now();
  const endAt = started + MINUTES * 60_000;
  let due = 0;
  const fire = () => {
    const m = cur;
    if (inFlight >= MAX_IN_FLIGHT) {
      m.skipped++;
      return;
    }
    inFlight++;
    m.sent++;
    const t0 = performance.now();
    void pick()
      .run()
      .then((status) => {
        inFlight--;
        m.latencies.push(performance.now() - t0);
        if (status === 0) m.errors++;
        else if (status >= 300) m.non2xx++;
      });
  };
  // steady pacing: a 10 ms tick sends what is due since the start
  const tick = setInterval(() => {
    const target = Math.floor(((performance.now() - started) / 1000) * RATE);
    while (due < target) {
      due++;
      fire();
    }
  }, 10);
  const sampler = setInterval(() => {
    scrape(metricsUrl).then(
      (s) => cur.samples.push(s),
      () => {},
    );
  }, SAMPLE_S * 1000);

  printHeader();
  while (performance.now() < endAt && !died) {
    const nextMinuteAt = started + cur.minute * 60_000;
    await new Promise((r) => setTimeout(r, Math.max(0, nextMinuteAt - performance.now())));
    const done = cur;
    if (cur.minute < MINUTES) {
      cur = { minute: done.minute + 1, sent: 0, errors: 0, non2xx: 0, skipped: 0, latencies: [], samples: [] };
      minutes.push(cur);
    }
    await new Promise((r) => setTimeout(r, 100)); // let the last sample of the minute land
    printRow(done, done.minute <= WARMUP);
  }
  clearInterval(tick);
  clearInterval(sampler);
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 50));

  if (died) {
    console.log("FAIL: the talos process died during the soak");
    return 1;
  }
  const after = minutes.filter((m) => m.minute > WARMUP && m.samples.length);
  if (after.length < 2) {
    console.log("FAIL: not enough minutes after warm-up to compare");
    return 1;
  }
  // growth along a least-squares line through every sample after warm-up: a heap's GC sawtooth
  // makes any two single minutes differ by more than 10 %, a leak moves the whole line
  const t0 = after[0]!.samples[0]!;
  const points = after.flatMap((m) => m.samples.map((s, i) => ({ t: m.minute - 1 + (i + 1) / m.samples.length, s })));
  let failed = false;
  for (const [label, f] of [
    ["RSS", (s: Sample) => s.rss],
    ["heap used", (s: Sample) => s.heapUsed],
  ] as const) {
    const { start, end } = fitLine(points.map((p) => ({ x: p.t, y: f(p.s) })));
    const growth = (end - start) / start;
    const ok = growth <= LIMIT;
    if (!ok) failed = true;
    console.log(
      `${ok ? "ok" : "FAIL"}: ${label} after warm-up (fitted line, minute ${WARMUP} → ${MINUTES}): ${mb(start)} → ${mb(end)} MB (${(growth * 100).toFixed(1)} %, limit ${LIMIT * 100} %; first sample ${mb(f(t0))} MB)`,
    );
  }
  const errors = minutes.reduce((n, m) => n + m.errors, 0);
  if (errors) console.log(`note: ${errors} requests got no answer`);
  return failed ? 1 : 0;
}

/** Least-squares line through the points; its values at the first and last x. */
function fitLine(pts: { x: number; y: number }[]): { start: number; end: number } {
  const n = pts.length;
  const mx = pts.reduce((a, p) => a + p.x, 0) / n;
  const my = pts.reduce((a, p) => a + p.y, 0) / n;
  const sxy = pts.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const sxx = pts.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  const slope = sxx ? sxy / sxx : 0;
  const at = (x: number) => my + slope * (x - mx);
  return { start: at(pts[0]!.x), end: at(pts[n - 1]!.x) };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const mb = (b: number) => (b / 1048576).toFixed(1);
const ms = (s: number) => (s * 1000).toFixed(1);

function printHeader() {
  console.log(
    "| minute | requests | req/s | no answer | non-2xx | skipped | p50 ms | p99 ms | RSS MB | heap used MB | heap total MB | external MB | event-loop p99 ms | event-loop max ms | db in flight | db pool max | db errors |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
}
function printRow(m: Minute, warm: boolean) {
  const s = m.samples;
  const p = m.latencies.length ? percentiles(Float64Array.from(m.latencies), m.latencies.length) : { p50: NaN, p99: NaN };
  const last = s[s.length - 1];
  const cells = [
    `${m.minute}${warm ? " (warm-up)" : ""}`,
    m.sent,
    (m.sent / 60).toFixed(0),
    m.errors,
    m.non2xx,
    m.skipped,
    p.p50.toFixed(1),
    p.p99.toFixed(1),
    s.length ? mb(mean(s.map((x) => x.rss))) : "-",
    s.length ? mb(mean(s.map((x) => x.heapUsed))) : "-",
    s.length ? mb(mean(s.map((x) => x.heapTotal))) : "-",
    s.length ? mb(mean(s.map((x) => x.external))) : "-",
    s.length ? ms(Math.max(...s.map((x) => x.lagP99))) : "-",
    s.length ? ms(Math.max(...s.map((x) => x.lagMax))) : "-",
    last ? Math.max(...s.map((x) => x.dbInFlight)) : "-",
    last ? last.dbPoolMax : "-",
    last ? last.dbErrors : "-",
  ];
  console.log(`| ${cells.join(" | ")} |`);
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(`soak failed: ${(e as Error).stack ?? e}`);
} finally {
  agent.destroy();
  if (proc) await proc.stop();
  await dropDb();
  rmSync(work, { recursive: true, force: true });
}
process.exit(code);
