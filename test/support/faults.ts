/**
 * Fault-injection helpers for the fault suites (test/e2e/faults-*.test.ts): a private PostgreSQL
 * cluster and a private Redis server that a test may stop and restart (the shared ones never are),
 * a load generator that records the answer to every request, and a readiness sampler.
 * Traffic goes to 127.0.0.1 only. Free of vitest imports.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { ISSUED_PATH, VERIFY_PATH, sleep } from "./cluster.js";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/* ------------------------------------------------------------ private PostgreSQL */

/** The directory of initdb/pg_ctl, or null when the server binaries are not installed. */
export function pgBinDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  for (const v of readdirSync(root).sort().reverse()) {
    const bin = path.join(root, v, "bin");
    if (existsSync(path.join(bin, "initdb")) && existsSync(path.join(bin, "pg_ctl"))) return bin;
  }
  return null;
}

export interface PrivatePostgres {
  dsn: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

/** initdb into a temp dir and start it on a free port (as the postgres user when we are root). */
export async function privatePostgres(bin: string): Promise<PrivatePostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), "talos-pg-fault-"));
  const data = path.join(dir, "data");
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (file: string, args: string[]) =>
    asRoot
      ? execFileSync("runuser", ["-u", "postgres", "--", path.join(bin, file), ...args], { stdio: "pipe" })
      : execFileSync(path.join(bin, file), args, { stdio: "pipe" });
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  const start = async () => void run("pg_ctl", ["-D", data, "-o", opts, "-l", path.join(dir, "log"), "-w", "-t", "60", "start"]);
  const stop = async () => void run("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"]);
  await start();
  return {
    dsn: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    async cleanup() {
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/* ------------------------------------------------------------ private Redis */

export interface PrivateRedis {
  addr: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export function redisServerBin(): string | null {
  for (const p of ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]) if (existsSync(p)) return p;
  return null;
}

/** redis-server on a free port, no persistence; stop() and start() keep the port. */
export async function privateRedis(bin: string): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async () => {
    const p = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
    proc = p;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 20_000);
      p.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (/Ready to accept connections/i.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      p.once("exit", () => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited: ${out}`));
      });
    });
  };
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGKILL");
    });
  };
  await start();
  return { addr: `127.0.0.1:${port}`, stop, start, cleanup: stop };
}

/* ------------------------------------------------------------ load */

export type Answer = number | "reset" | "timeout";

export interface Outcome {
  op: "issue" | "revoke" | "verify";
  answer: Answer;
  /** issue: the request_id sent; revoke: the key id */
  ref: string;
  /** issue acknowledged: the key id */
  keyId?: string;
  error?: string;
}

export interface LoadReport {
  outcomes: Outcome[];
  /** issue request_ids sent, in order */
  issued: string[];
  /** key ids acknowledged by a 2xx issue */
  ackedKeys: Map<string, string>;
  /** key ids whose revoke was acknowledged with 204 */
  ackedRevokes: Set<string>;
}

/**
 * Mixed traffic until stop(): verifies of `secret` (no-cache, so they reach the database), issues
 * with a request_id under `actor`, and revokes of keys issued earlier. Each request has its own
 * client timeout just over the server's request timeout (15 s): "timeout" means it hung.
 */
export function startLoad(apiUrl: string, opts: { secret: string; actor: string; concurrency?: number; clientTimeoutMs?: number }) {
  const report: LoadReport = { outcomes: [], issued: [], ackedKeys: new Map(), ackedRevokes: new Set() };
  const revocable: string[] = [];
  const timeoutMs = opts.clientTimeoutMs ?? 20_000;
  let stopping = false;

  const call = async (pathName: string, body: unknown): Promise<{ answer: Answer; json?: any; error?: string }> => {
    try {
      const res = await fetch(`${apiUrl}${pathName}`, {
        method: "POST",
        headers: { "content-type": "application/json", "cache-control": "no-cache" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { answer: res.status, json };
    } catch (e) {
      const name = (e as Error).name;
      return { answer: name === "TimeoutError" ? "timeout" : "reset", error: String((e as Error).cause ?? e) };
    }
  };

  const worker = async (n: number) => {
    for (let i = 0; !stopping; i++) {
      const kind = (n + i) % 4;
      if (kind === 0) {
        const rid = randomUUID();
        report.issued.push(rid);
        const r = await call(ISSUED_PATH, { name: "fault", actor_id: opts.actor, request_id: rid });
        const keyId = r.answer === 201 || r.answer === 200 ? (r.json?.issued_api_key?.key_id as string | undefined) : undefined;
        if (keyId) {
          report.ackedKeys.set(rid, keyId);
          revocable.push(keyId);
        }
        report.outcomes.push({ op: "issue", answer: r.answer, ref: rid, keyId, error: r.error });
      } else if (kind === 1 && revocable.length > 0) {
        const keyId = revocable.shift()!;
        const r = await call(`${ISSUED_PATH}/${keyId}:revoke`, {});
        if (r.answer === 204) report.ackedRevokes.add(keyId);
        report.outcomes.push({ op: "revoke", answer: r.answer, ref: keyId, error: r.error });
      } else {
        const r = await call(VERIFY_PATH, { credential: opts.secret });
        report.outcomes.push({ op: "verify", answer: r.answer, ref: "", error: r.error });
      }
      if (typeof report.outcomes.at(-1)?.answer !== "number") await sleep(20); // do not spin on a dead port
    }
  };

  const workers = Array.from({ length: opts.concurrency ?? 8 }, (_, n) => worker(n));
  return {
    report,
    async stop(): Promise<LoadReport> {
      stopping = true;
      await Promise.all(workers);
      return report;
    },
  };
}

/** Answers that were not an HTTP response (connection reset/refused, or no answer in time). */
export const unanswered = (r: LoadReport) => r.outcomes.filter((o) => typeof o.answer !== "number");
/** HTTP statuses the load saw, counted. */
export function statusCounts(r: LoadReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of r.outcomes) out[`${o.op} ${o.answer}`] = (out[`${o.op} ${o.answer}`] ?? 0) + 1;
  return out;
}

/* ------------------------------------------------------------ readiness */

/** Samples `GET <metricsUrl>/health/ready` every `everyMs` until stop(). */
export function sampleReadiness(metricsUrl: string, everyMs = 100) {
  const samples: { t: number; status: number | "error" }[] = [];
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      let status: number | "error";
      try {
        const res = await fetch(`${metricsUrl}/health/ready`, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        status = res.status;
      } catch {
        status = "error";
      }
      samples.push({ t: performance.now(), status });
      await sleep(everyMs);
    }
  })();
  return {
    samples,
    async stop() {
      stopping = true;
      await loop;
      return samples;
    },
    /** Waits (polling the samples) until one after `since` has `status`; ms from `since`, or null after `limitMs`. */
    async waitFor(status: number, since: number, limitMs: number): Promise<number | null> {
      for (;;) {
        const hit = samples.find((s) => s.t >= since && s.status === status);
        if (hit) return hit.t - since;
        if (performance.now() - since > limitMs) return null;
        await sleep(25);
      }
    },
  };
}
