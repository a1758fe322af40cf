/**
 * A/B of the revoke path between this checkout's production build and another's (`--against`),
 * interleaved round by round on fresh databases, embedded and PostgreSQL: wrk, one thread, 32
 * connections, each key revoked once; server CPU per request from /proc/<pid>/stat.
 *
 *   npm run build   # here and in the other checkout
 *   node --conditions=development --import tsx bench/revoke-ab.ts --against ../base [--rounds 3] [--seconds 8] [--db postgres,embedded]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, startProcess, TALOS_READY_LINE, talosServerEnv } from "./proc.js";
import { freshDatabase } from "../test/support/postgres.js";
import { findWrk, runWrk, type WrkRequest } from "./wrk.js";

const { values: args } = parseArgs({
  options: {
    against: { type: "string" },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "8" },
    db: { type: "string", default: "postgres,embedded" },
  },
});
if (!args.against) throw new Error("--against <checkout with a production build> is required");
const builds = { before: resolve(args.against), after: ROOT };
const wrk = findWrk();
if (!wrk) throw new Error("wrk is not installed (apt-get install wrk)");
const ADMIN_DSN = process.env.TALOS_BENCH_DSN || process.env.TALOS_TEST_DSN || "postgres://postgres@127.0.0.1:5432/postgres";
const dir = mkdtempSync(join(tmpdir(), "talos-revoke-ab-"));
const HMAC = `ab-${randomBytes(16).toString("hex")}`;
const SECONDS = Number(args.seconds);

/** utime + stime of a process, in ms (clock ticks of 10 ms) */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function database(db: string, label: string): Promise<{ dsn: string; drop: () => Promise<void> }> {
  if (db === "embedded") return { dsn: `pglite://${dir}/${label}`, drop: async () => {} };
  return freshDatabase("talos_revoke_ab", ADMIN_DSN);
}

async function run(build: keyof typeof builds, db: string, round: number) {
  const label = `${build}-${db}-${round}`;
  const { dsn, drop } = await database(db, label);
  const p = await startProcess({
    name: label,
    dir,
    args: [`${builds[build]}/packages/cli/dist/main.js`, "serve", "admin", "--migrate"],
    env: talosServerEnv({
      TALOS_DB_DSN: dsn,
      TALOS_SECRETS_HMAC_CURRENT: HMAC,
      TALOS_CREDENTIALS_ISSUER: "https://revoke-ab.talos.local",
      TALOS_LOG_LEVEL: "info",
    }),
    readyLine: TALOS_READY_LINE,
  });
  try {
    const url = `http://127.0.0.1:${p.ready[0]}`;
    // more keys than the faster build revokes in the run: each request revokes a key once
    const ids: string[] = [];
    for (let made = 0; made < (db === "embedded" ? 8000 : 16000); made += 1000) {
      const requests = Array.from({ length: 1000 }, () => ({ name: "ab", actor_id: "ab", raw_key: `sk_ab_${randomBytes(16).toString("hex")}` }));
      const r = await fetch(`${url}/v2alpha1/admin/importedApiKeys:batchCreate`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ requests }) });
      const body = (await r.json()) as { results: { imported_api_key: { key_id: string } }[] };
      for (const item of body.results) ids.push(item.imported_api_key.key_id);
    }
    const revokes = (list: string[]): WrkRequest[] => list.map((id) => ({ method: "POST", path: `/v2alpha1/admin/importedApiKeys/${id}:revoke`, body: "{}" }));
    await runWrk({ wrk: wrk!, url, requests: revokes(ids.splice(0, 300)), connections: 32, seconds: 1, scriptPath: `${dir}/warm.lua` });
    const c0 = cpuMs(p.child.pid!);
    const r = await runWrk({ wrk: wrk!, url, requests: revokes(ids), connections: 32, seconds: SECONDS, scriptPath: `${dir}/run.lua` });
    const cpuUsPerRequest = r.requests > 0 ? Math.round(((cpuMs(p.child.pid!) - c0) * 1000) / r.requests) : null;
    console.log(JSON.stringify({ build, db, round, rps: Math.round(r.rps), p50: r.p50, p99: r.p99, non2xx: r.non2xx, errors: r.errors, cpuUsPerRequest }));
  } finally {
    await p.stop();
    await drop();
  }
}

for (let i = 0; i < Number(args.rounds); i++) {
  for (const db of args.db.split(",")) {
    // alternate which build goes first, so a drifting machine favours neither
    const order: (keyof typeof builds)[] = i % 2 === 0 ? ["before", "after"] : ["after", "before"];
    for (const b of order) await run(b, db, i);
  }
}
