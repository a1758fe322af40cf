import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** How the talos server is started: the production build when present, else the sources via tsx. */
export function talosEntry(): { args: string[]; kind: "dist" | "tsx" } {
  const dist = `${ROOT}/packages/cli/dist/main.js`;
  if (existsSync(dist)) return { args: [dist], kind: "dist" };
  return { args: [`${ROOT}/packages/cli/bin/talos.mjs`], kind: "tsx" };
}

export interface Proc {
  name: string;
  child: ChildProcess;
  /** regex groups of the ready line */
  ready: string[];
  stdoutPath: string;
  stderrPath: string;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code (null when killed) */
  stop(graceMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Starts a process with stdout/stderr going to files (a pipe we did not drain would stall the
 * server's logger) and waits until a line matching `readyLine` appears on stdout.
 */
export async function startProcess(opts: {
  name: string;
  args: string[];
  env: Record<string, string | undefined>;
  readyLine: RegExp;
  dir: string;
  timeoutMs?: number;
}): Promise<Proc> {
  const stdoutPath = `${opts.dir}/${opts.name}.stdout.log`;
  const stderrPath = `${opts.dir}/${opts.name}.stderr.log`;
  const out = openSync(stdoutPath, "w");
  const err = openSync(stderrPath, "w");
  const child = spawn(process.execPath, opts.args, { cwd: ROOT, env: opts.env, stdio: ["ignore", out, err] });
  closeSync(out);
  closeSync(err);
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve((code = c))));
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let ready: string[] | null = null;
  while (!ready) {
    if (code !== undefined) throw new Error(`${opts.name} exited (${code}) before it was ready:\n${tail(stderrPath)}\n${tail(stdoutPath)}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${opts.name} not ready within ${opts.timeoutMs ?? 60_000} ms:\n${tail(stderrPath)}`);
    }
    await sleep(50);
    const m = opts.readyLine.exec(readFileSync(stdoutPath, "utf8"));
    if (m) ready = m.slice(1);
  }
  return {
    name: opts.name,
    child,
    ready,
    stdoutPath,
    stderrPath,
    exited,
    async stop(graceMs = 20_000) {
      if (code !== undefined) return code;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const c = await exited;
      clearTimeout(t);
      return c;
    },
  };
}

export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** The ready line a server started with talosServerEnv prints: its API and metrics ports. */
export const TALOS_READY_LINE = /TALOS_PORTS (\d+) (\d+)/;

/**
 * Environment of a talos server a bench starts: production mode, API and metrics on 127.0.0.1 on
 * ports the OS picks (printed as TALOS_READY_LINE), plus `settings` (TALOS_DB_DSN, the secret, …).
 */
export function talosServerEnv(settings: Record<string, string>): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    TALOS_PRINT_PORTS: "1",
    TALOS_SERVE_HTTP_HOST: "127.0.0.1",
    TALOS_SERVE_HTTP_PORT: "0",
    TALOS_SERVE_METRICS_HOST: "127.0.0.1",
    TALOS_SERVE_METRICS_PORT: "0",
    ...settings,
  };
}
