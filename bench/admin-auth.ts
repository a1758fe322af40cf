/**
 * What `serve.admin_auth.mode: tokens` costs warm verify (docs/admin-auth.md, BENCHMARKS.md#admin-authentication):
 * two `talos serve admin` child processes on the memory database, one with admin auth off and one
 * with a static token, both warm, driven by wrk in interleaved rounds (off, on, on, off, …) so a
 * drift of the shared machine falls on both sides. The authenticated side's verifier sends
 * `Authorization: Bearer <token>` on every request. Target (issue #16): ratio on/off ≥ 0.95.
 * Besides req/s, each run reads the server's own CPU time (process_cpu_seconds_total on its metrics
 * listener) before and after: CPU µs per request is far steadier than req/s on a shared machine.
 *
 *   node --conditions=development --import tsx bench/admin-auth.ts [--seconds 5] [--rounds 3] [--connections 16] [--json]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { hashAdminToken } from "@talos/core";
import { ISSUED_PATH, VERIFY_PATH, metricValue } from "../test/support/cluster.js";
import { fetchJson, startTalos, stopAllTalos, type TalosProcess } from "../test/support/process.js";
import { findWrk, runWrk, type WrkResult } from "./wrk.js";

// a bench-only token: the server is a child of this process on 127.0.0.1 and lives for the run
const TOKEN = "talos_at_bench_0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
const KEYS = 100;

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Side {
  name: "off" | "tokens";
  proc: TalosProcess;
  headers: Record<string, string>;
  secrets: string[];
  runs: WrkResult[];
  /** server CPU µs per request, per run */
  cpuUs: number[];
}

/** the server's CPU seconds so far (prom-client's process_cpu_seconds_total, from process.cpuUsage) */
async function cpuSeconds(s: Side): Promise<number> {
  const r = await fetch(`${s.proc.metricsUrl}/metrics`);
  return metricValue(await r.text(), "process_cpu_seconds_total");
}

async function start(name: Side["name"]): Promise<Side> {
  const auth = name === "tokens" ? { TALOS_SERVE_ADMIN_AUTH_MODE: "tokens", TALOS_SERVE_ADMIN_AUTH_TOKENS: JSON.stringify([{ name: "bench", hash: hashAdminToken(TOKEN), permissions: ["admin"] }]) } : {};
  const proc = await startTalos({
    args: ["serve", "admin"],
    // warn: startTalos keeps every stdout line in memory, and per-request log lines would cost both sides alike
    env: { TALOS_DB_DSN: "memory", TALOS_SECRETS_HMAC_CURRENT: "bench-admin-auth-hmac-secret-0123456789abcdef", TALOS_CREDENTIALS_ISSUER: "https://bench.test", TALOS_LOG_LEVEL: "warn", ...auth },
  });
  const headers: Record<string, string> = name === "tokens" ? { authorization: `Bearer ${TOKEN}` } : {};
  const secrets: string[] = [];
  for (let i = 0; i < KEYS; i++) {
    const r = await fetchJson(`${proc.apiUrl}${ISSUED_PATH}`, { body: { name: `b${i}`, actor_id: "bench", scopes: ["a", "b", "c"] }, headers });
    if (r.status !== 201) throw new Error(`${name}: issue answered ${r.status} ${r.text}`);
    secrets.push(r.body.secret as string);
  }
  for (const credential of secrets) {
    const v = await fetchJson(`${proc.apiUrl}${VERIFY_PATH}`, { body: { credential }, headers });
    if (v.status !== 200 || v.body.is_valid !== true) throw new Error(`${name}: verify answered ${v.status} ${v.text}`);
  }
  if (name === "tokens") {
    // the guard is really on: no credential is refused
    const refused = await fetchJson(`${proc.apiUrl}${VERIFY_PATH}`, { body: { credential: secrets[0] } });
    if (refused.status !== 401) throw new Error(`tokens side answered ${refused.status} without a token`);
  }
  return { name, proc, headers, secrets, runs: [], cpuUs: [] };
}

async function main() {
  const { values } = parseArgs({
    options: { seconds: { type: "string", default: "5" }, rounds: { type: "string", default: "3" }, connections: { type: "string", default: "16" }, json: { type: "boolean", default: false } },
  });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const connections = Number(values.connections);
  const wrk = findWrk();
  if (!wrk) throw new Error("wrk is not installed (apt-get install wrk)");
  const dir = mkdtempSync(join(tmpdir(), "talos-bench-admin-auth-"));
  try {
    const off = await start("off");
    const on = await start("tokens");
    const run = (s: Side, secs: number) =>
      runWrk({
        wrk,
        url: s.proc.apiUrl,
        requests: s.secrets.map((credential) => ({ path: VERIFY_PATH, body: JSON.stringify({ credential }), headers: s.headers })),
        connections,
        seconds: secs,
        scriptPath: join(dir, `${s.name}.lua`),
      });
    for (const s of [off, on]) await run(s, 2); // warm-up: JIT, sockets
    for (let i = 0; i < rounds; i++) {
      for (const s of i % 2 === 0 ? [off, on] : [on, off]) {
        const cpu0 = await cpuSeconds(s);
        const r = await run(s, seconds);
        const cpu = ((await cpuSeconds(s)) - cpu0) * 1e6;
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${s.name}: ${r.non2xx} non-2xx, ${r.errors} socket errors`);
        s.runs.push(r);
        s.cpuUs.push(cpu / r.requests);
        console.error(`round ${i} ${s.name.padEnd(6)} ${Math.round(r.rps)} req/s  p50 ${r3(r.p50)} ms  p99 ${r3(r.p99)} ms  ${r3(cpu / r.requests)} CPU µs/req`);
      }
    }
    const summary = (s: Side) => ({ rps: s.runs.map((r) => Math.round(r.rps)), rps_mean: Math.round(mean(s.runs.map((r) => r.rps))), p50_ms: r3(median(s.runs.map((r) => r.p50))), p99_ms: r3(median(s.runs.map((r) => r.p99))), cpu_us_per_request: r3(median(s.cpuUs)) });
    const result = {
      connections,
      seconds,
      rounds,
      off: summary(off),
      tokens: summary(on),
      // per round, so one noisy round is visible rather than averaged away
      ratio_per_round: on.runs.map((r, i) => r3(r.rps / off.runs[i]!.rps)),
      ratio: r3(mean(on.runs.map((r) => r.rps)) / mean(off.runs.map((r) => r.rps))),
      // capacity when the CPU is the limit: off's CPU per request over tokens' (medians)
      cpu_ratio: r3(median(off.cpuUs) / median(on.cpuUs)),
      target: 0.95,
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log("| admin auth | req/s (mean) | p50 ms | p99 ms | CPU µs/req | rounds req/s |\n| --- | ---: | ---: | ---: | ---: | --- |");
      for (const [n, s] of [["off", result.off], ["tokens", result.tokens]] as const) console.log(`| ${n} | ${s.rps_mean} | ${s.p50_ms} | ${s.p99_ms} | ${s.cpu_us_per_request} | ${s.rps.join(", ")} |`);
      console.log(`ratio tokens/off: req/s ${result.ratio} (per round ${result.ratio_per_round.join(", ")}), CPU per request ${result.cpu_ratio}; target ≥ ${result.target}`);
    }
  } finally {
    await stopAllTalos();
  }
}

await main();
