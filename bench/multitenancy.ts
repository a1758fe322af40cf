import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { startProcess, TALOS_READY_LINE, talosEntry, talosServerEnv, type Proc } from "./proc.js";
import { round } from "./stats.js";
import { findWrk, runWrk, type WrkRequest } from "./wrk.js";

/**
 * Warm verify with multitenancy on (3 networks, the host chosen per request) against the same
 * server with it off (docs/multitenancy.md#cost). Target: the host lookup costs at most 5 % of
 * throughput, i.e. ratio on/off >= 0.95. Rounds are interleaved so machine drift hits both alike;
 * CPU per request (from /proc/<pid>/stat) is reported beside req/s as the steadier figure.
 *
 * `node --import tsx bench/multitenancy.ts [--seconds 8] [--rounds 3] [--connections 32]`.
 * Prints MULTITENANCY <json>.
 */
const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const VERIFY = "/v2alpha1/admin/apiKeys:verify";
const HOSTS = ["one.bench.test", "two.bench.test", "three.bench.test"];
const IDS = ["0b9e7c1e-5a43-4f11-9a0e-3f3f0f6f4a01", "6c1a5b0e-1d2e-4c3f-8a4b-5c6d7e8f9a02", "1d0c9b8a-7f6e-4d5c-9b4a-3f2e1d0c9b03"];
const WRK = findWrk();
if (!WRK) throw new Error("wrk is not installed (apt-get install wrk)");
const TICK_US = 1e6 / 100;

const work = mkdtempSync(`${tmpdir()}/talos-mt-bench-`);
const procs: Proc[] = [];

function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

/** POST with a chosen Host (fetch always sends the URL's). */
function post(port: number, host: string, path: string, body: unknown): Promise<string> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path, headers: { host, "content-type": "application/json", "content-length": Buffer.byteLength(text) } }, (res) => {
      let out = "";
      res.setEncoding("utf8").on("data", (d: string) => (out += d));
      res.on("end", () => (res.statusCode === 200 || res.statusCode === 201 ? resolve(out) : reject(new Error(`${res.statusCode} ${out}`))));
    });
    req.on("error", reject);
    req.end(text);
  });
}

async function main() {
  const entry = talosEntry();
  for (const [i] of HOSTS.entries()) writeFileSync(`${work}/n${i}.yaml`, `credentials:\n  issuer: https://${HOSTS[i]}\n`);
  writeFileSync(
    `${work}/talos.yaml`,
    `multitenancy:\n  enabled: true\n  networks:\n${HOSTS.map((h, i) => `    - { hostname: ${h}, id: ${IDS[i]}, config_path: n${i}.yaml }\n`).join("")}`,
  );
  const start = (name: string, args: string[]) =>
    startProcess({
      name,
      dir: work,
      args: [...entry.args, "serve", "admin", ...args],
      env: talosServerEnv({
        TALOS_DB_DSN: "memory",
        TALOS_SECRETS_HMAC_CURRENT: `mt-${randomBytes(16).toString("hex")}`,
        TALOS_CREDENTIALS_ISSUER: "https://bench.talos.local",
      }),
      readyLine: TALOS_READY_LINE,
    });
  const off = await start("talos-single", []);
  procs.push(off);
  const on = await start("talos-multitenant", ["--config", `${work}/talos.yaml`]);
  procs.push(on);

  /** 99 warm keys; with `hosts`, spread over the networks and sent with their network's Host */
  const seed = async (port: number, hosts: string[]): Promise<WrkRequest[]> => {
    const out: WrkRequest[] = [];
    for (let i = 0; i < 99; i++) {
      const host = hosts[i % hosts.length]!;
      const r = JSON.parse(await post(port, host, "/v2alpha1/admin/issuedApiKeys", { name: `k${i}`, actor_id: `user-${i}`, scopes: ["keys:read"] })) as { secret: string };
      await post(port, host, VERIFY, { credential: r.secret });
      out.push({ path: VERIFY, body: JSON.stringify({ credential: r.secret }), headers: { Host: host } });
    }
    return out;
  };
  const servers = [
    { name: "multitenancy off", proc: off, requests: await seed(Number(off.ready[0]), ["127.0.0.1"]) },
    { name: "multitenancy on (3 networks)", proc: on, requests: await seed(Number(on.ready[0]), HOSTS) },
  ];
  const results: Record<string, { rps: number[]; usPerRequest: number[]; non2xx: number }> = {};
  for (const s of servers) {
    results[s.name] = { rps: [], usPerRequest: [], non2xx: 0 };
    await runWrk({ wrk: WRK!, url: `http://127.0.0.1:${s.proc.ready[0]}`, requests: s.requests, connections: CONNECTIONS, seconds: 2, scriptPath: `${work}/load.lua` });
  }
  for (let r = 1; r <= ROUNDS; r++) {
    for (const s of r % 2 === 1 ? servers : [...servers].reverse()) {
      const pid = s.proc.child.pid!;
      const before = cpuUs(pid);
      const w = await runWrk({ wrk: WRK!, url: `http://127.0.0.1:${s.proc.ready[0]}`, requests: s.requests, connections: CONNECTIONS, seconds: SECONDS, scriptPath: `${work}/load.lua` });
      const us = round((cpuUs(pid) - before) / w.requests, 1);
      results[s.name]!.rps.push(round(w.rps, 0));
      results[s.name]!.usPerRequest.push(us);
      results[s.name]!.non2xx += w.non2xx + w.errors;
      process.stderr.write(`round ${r} ${s.name}: ${round(w.rps, 0)} req/s, ${us} µs CPU/request, ${w.non2xx} non-2xx\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const o = results[servers[0]!.name]!;
  const m = results[servers[1]!.name]!;
  const ratio = round(median(m.rps) / median(o.rps), 3);
  const cpuRatio = round(median(m.usPerRequest) / median(o.usPerRequest), 3);
  process.stdout.write(`MULTITENANCY ${JSON.stringify({ results, throughputRatio: ratio, cpuPerRequestRatio: cpuRatio, target: "throughputRatio >= 0.95", met: ratio >= 0.95 })}\n`);
}

try {
  await main();
} finally {
  for (const p of procs) await p.stop(5000).catch(() => null);
  rmSync(work, { recursive: true, force: true });
}
