import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { exportJWK, generateKeyPair } from "jose";
import { ROOT, startProcess, TALOS_READY_LINE, talosEntry, talosServerEnv, type Proc } from "./proc.js";
import { round } from "./stats.js";
import { findWrk, runWrk, type WrkRequest } from "./wrk.js";

/**
 * Server CPU per request for warm verify against its two floors: bare node:http and bare Hono,
 * each parsing the same body and answering the same bytes (bench/baseline-server.ts). CPU is read
 * from /proc/<pid>/stat around each wrk run, so the figure is the server's own cost, steadier than
 * req/s on a shared machine. Rounds are interleaved so drift hits every server alike.
 *
 * `node --import tsx bench/cpu-per-request.ts [--seconds 8] [--rounds 3] [--connections 32] [--variant K=V ...]
 * [--against <checkout>] [--profile <dir>]` (the production build is used when `npm run build` has
 * run). Prints CPU_PER_REQUEST <json>.
 *
 * --against: a second talos from another built checkout (e.g. `git worktree add --detach ../base
 * main`, then npm install and npm run build there), measured in the same interleaved rounds: a
 * before/after of a code change on one machine state. --profile: the main talos runs under
 * --cpu-prof and leaves its profile in <dir> (bench/profile-summary.ts reads it); the profiler's
 * own cost inflates that server's figures, so do not quote them from a profiled run.
 * --together: the two talos servers are loaded at once (half the connections each) instead of in
 * turn, so machine load from other work hits both alike.
 */
const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "32" },
    // a second talos measured beside the first with these settings, e.g. --variant TALOS_LOG_LEVEL=warn
    variant: { type: "string", multiple: true },
    against: { type: "string" },
    profile: { type: "string" },
    together: { type: "boolean", default: false },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONNECTIONS = Number(values.connections);
const VERIFY = "/v2alpha1/admin/apiKeys:verify";
const WRK = findWrk();
if (!WRK) throw new Error("wrk is not installed (apt-get install wrk)");
const TICK_US = 1e6 / 100; // USER_HZ is 100 on Linux

const work = mkdtempSync(`${tmpdir()}/talos-cpu-`);
const procs: Proc[] = [];

/** utime + stime of the main thread and of the others (libuv's pool, V8's GC and compiler workers), in µs */
function threadCpuUs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // Node 20 names most of its threads "node": the main thread is told apart by its id
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const name = tid === String(pid) ? "main" : comm === "node" ? "other" : comm;
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * TICK_US);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** utime and stime of a process, in µs (kernel time is mostly the loopback socket writes, alike for every server) */
function cpuUs(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) * TICK_US, sys: Number(fields[12]) * TICK_US };
}

async function post(url: string, body: unknown) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

async function main() {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwks = `base64://${Buffer.from(JSON.stringify({ keys: [{ ...(await exportJWK(privateKey)), kid: "cpu", use: "sig", alg: "EdDSA" }] })).toString("base64")}`;
  const entry = talosEntry();
  const startTalos = (name: string, extra: Record<string, string>, args = [...entry.args, "serve", "admin"]) =>
    startProcess({
      name,
      dir: work,
      args,
      env: talosServerEnv({
        TALOS_DB_DSN: "memory",
        TALOS_SECRETS_HMAC_CURRENT: `cpu-${randomBytes(16).toString("hex")}`,
        TALOS_CREDENTIALS_ISSUER: "https://bench.talos.local",
        TALOS_LOG_LEVEL: "info",
        TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: jwks,
        ...extra,
      }),
      readyLine: TALOS_READY_LINE,
    });
  const prof = values.profile ? ["--cpu-prof", `--cpu-prof-dir=${values.profile}`] : [];
  const talos = await startTalos("talos", {}, [...prof, ...entry.args, "serve", "admin"]);
  procs.push(talos);
  const talosUrl = `http://127.0.0.1:${talos.ready[0]}`;
  const seed = async (url: string) => {
    const secrets: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await post(`${url}/v2alpha1/admin/issuedApiKeys`, {
        name: `k${i}`,
        actor_id: `user-${i}`,
        scopes: ["keys:read", "keys:write", "billing:read"],
        metadata: { plan: "enterprise", team: "platform", region: "eu-west-1" },
      });
      secrets.push((JSON.parse(r.text) as { secret: string }).secret);
    }
    for (const s of secrets) await post(`${url}${VERIFY}`, { credential: s });
    return secrets;
  };
  const secrets = await seed(talosUrl);
  const sample = await post(`${talosUrl}${VERIFY}`, { credential: secrets[0] });

  const floors: Record<string, string> = {};
  for (const kind of ["node", "hono"]) {
    const p = await startProcess({
      name: `bare-${kind}`,
      dir: work,
      args: ["--import", "tsx", `${ROOT}/bench/baseline-server.ts`],
      env: { PATH: process.env.PATH, NODE_ENV: "production", BASELINE_TEMPLATE: sample.text, BASELINE_KIND: kind },
      readyLine: /BASELINE_PORT (\d+)/,
    });
    procs.push(p);
    floors[kind] = `http://127.0.0.1:${p.ready[0]}`;
    const probe = await post(`${floors[kind]}${VERIFY}`, { credential: secrets[0] });
    if (probe.text.length !== sample.text.length) throw new Error(`bare ${kind} answers ${probe.text.length} bytes, verify ${sample.text.length}`);
  }
  const servers = [
    { name: "bare node:http", url: floors.node!, pid: procs[1]!.child.pid! },
    { name: "bare Hono", url: floors.hono!, pid: procs[2]!.child.pid! },
    { name: `talos verify (${entry.kind === "dist" ? "build" : "sources via tsx"})`, url: talosUrl, pid: talos.child.pid! },
  ];
  const bodies = (list: string[]): WrkRequest[] => list.map((s) => ({ path: VERIFY, body: JSON.stringify({ credential: s }) }));
  const loads = new Map<string, WrkRequest[]>(servers.map((s) => [s.name, bodies(secrets)]));
  if (values.variant?.length) {
    const extra = Object.fromEntries(values.variant.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    const v = await startTalos("talos-variant", extra);
    procs.push(v);
    const url = `http://127.0.0.1:${v.ready[0]}`;
    const name = `talos verify with ${values.variant.join(" ")}`;
    servers.push({ name, url, pid: v.child.pid! });
    loads.set(name, bodies(await seed(url)));
  }
  if (values.against) {
    const dist = `${values.against}/packages/cli/dist/main.js`;
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run npm install and npm run build in ${values.against}`);
    const a = await startTalos("talos-against", {}, [dist, "serve", "admin"]);
    procs.push(a);
    const url = `http://127.0.0.1:${a.ready[0]}`;
    const name = `talos verify (build of ${values.against})`;
    servers.push({ name, url, pid: a.child.pid! });
    loads.set(name, bodies(await seed(url)));
  }
  const results: Record<string, { usPerRequest: number[]; userUsPerRequest: number[]; rps: number[] }> = {};
  for (const s of servers) {
    results[s.name] = { usPerRequest: [], userUsPerRequest: [], rps: [] };
    await runWrk({ wrk: WRK!, url: s.url, requests: loads.get(s.name)!, connections: CONNECTIONS, seconds: 2, scriptPath: `${work}/load.lua` }); // warm-up
  }
  /** one wrk run against s, and its CPU per request */
  const measure = async (s: (typeof servers)[number], round_: number, scriptPath: string, connections: number) => {
    const before = cpuUs(s.pid);
    const threadsBefore = threadCpuUs(s.pid);
    const r = await runWrk({ wrk: WRK!, url: s.url, requests: loads.get(s.name)!, connections, seconds: SECONDS, scriptPath });
    const after = cpuUs(s.pid);
    const used = after.user + after.sys - before.user - before.sys;
    const user = round((after.user - before.user) / r.requests, 1);
    results[s.name]!.usPerRequest.push(round(used / r.requests, 1));
    results[s.name]!.userUsPerRequest.push(user);
    results[s.name]!.rps.push(round(r.rps, 0));
    const threads = [...threadCpuUs(s.pid)]
      .map(([name, us]) => [name, round((us - (threadsBefore.get(name) ?? 0)) / r.requests, 1)] as const)
      .filter(([, us]) => us >= 0.1)
      .map(([name, us]) => `${name} ${us}`)
      .join(", ");
    process.stderr.write(`round ${round_} ${s.name}: ${round(used / r.requests, 1)} µs CPU/request (user ${user}; by thread: ${threads}), ${round(r.rps, 0)} req/s\n`);
  };
  // --together: the last two servers (talos and the --against or --variant one) are loaded at the
  // same time, half the connections each, so both see the same machine: on a shared, busy machine
  // the rounds of one server alone swing more than the change being measured
  const paired = values.together && servers.length >= 4 ? servers.slice(-2) : [];
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    for (const s of servers) if (!paired.includes(s)) await measure(s, round_, `${work}/load.lua`, CONNECTIONS);
    if (paired.length === 2) {
      const half = Math.max(1, Math.floor(CONNECTIONS / 2));
      await Promise.all(paired.map((s, i) => measure(s, round_, `${work}/load-${i}.lua`, half)));
    }
  }
  process.stdout.write(`CPU_PER_REQUEST ${JSON.stringify(results)}\n`);
}

try {
  await main();
} finally {
  for (const p of procs) await p.stop(5000).catch(() => null);
  rmSync(work, { recursive: true, force: true });
}
