/**
 * Runs the real `talos` binary (packages/cli/bin/talos.mjs) as a child process, the way users do
 * (docs/architecture.md#tests). Free of vitest imports so benchmarks and scripts can use it too.
 *
 *   afterAll(stopAllTalos);                       // in every file that spawns
 *   const admin = await startTalos({ args: ["serve", "admin"], env: { TALOS_DB_DSN: dsn, ... } });
 *   const r = await fetchJson(`${admin.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { name: "a" } });
 *   expect(await admin.stop()).toBe(0);           // SIGTERM, resolves with the exit code
 *   const m = await runTalos(["migrate", "status"], { TALOS_DB_DSN: dsn });  // { code, stdout, stderr }
 *
 * API: startTalos, runTalos, stopAllTalos, tempDir, fetchJson, TALOS_BIN, REPO_ROOT, E2E_TIMEOUT_MS.
 * - startTalos waits for the `TALOS_PORTS <api> <metrics>` line (TALOS_PRINT_PORTS=1, both ports 0
 *   by default, bound to 127.0.0.1); its error carries the child's stderr and stdout tail.
 * - The child never inherits TALOS_*, DSN, NODE_ENV or VITEST* from the caller; pass what it needs.
 * - The default cwd is a fresh tempDir(), so `serve --dev` never writes ./.talos/ into the repo.
 * - stopAllTalos SIGKILLs what is left and removes the temp dirs; a process `exit` hook SIGKILLs
 *   stragglers if even that did not run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** Absolute path of the CLI entry point (runs the TypeScript sources through tsx). */
export const TALOS_BIN = fileURLToPath(new URL("../../packages/cli/bin/talos.mjs", import.meta.url));
/** The repository root; the default cwd is NOT this (see `cwd` below). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface StartTalosOptions {
  /** CLI arguments, e.g. `["serve", "admin", "--migrate"]`. */
  args: string[];
  /**
   * Extra environment. The child inherits the parent's environment minus every `TALOS_*`, `DSN`,
   * `NODE_ENV` and `VITEST*` variable (so neither a developer's shell nor the test runner leaks
   * into the server), plus these defaults, which
   * `env` overrides: TALOS_PRINT_PORTS=1, TALOS_SERVE_HTTP_HOST/TALOS_SERVE_METRICS_HOST=127.0.0.1,
   * TALOS_SERVE_HTTP_PORT/TALOS_SERVE_METRICS_PORT=0 (free ports). A value of `undefined` removes
   * a variable.
   */
  env?: Record<string, string | undefined>;
  /** Working directory; `serve --dev` creates `./.talos/` here. Default: a fresh tempDir(), never the repo. */
  cwd?: string;
  /** How long to wait for the `TALOS_PORTS` line (default 60 s; tsx start-up is slow on busy machines). */
  startTimeoutMs?: number;
}

export interface TalosProcess {
  /** `http://127.0.0.1:<port>` of the API listener. */
  apiUrl: string;
  /** `http://127.0.0.1:<port>` of the metrics listener, or null when metrics are disabled. */
  metricsUrl: string | null;
  apiPort: number;
  metricsPort: number;
  proc: ChildProcess;
  pid: number;
  /** The working directory the process runs in. */
  cwd: string;
  /** stdout lines seen so far (live array: JSON log records and the TALOS_PORTS line). */
  stdout: string[];
  /** stderr lines seen so far (live array). */
  stderr: string[];
  /** stdout lines that parse as JSON objects (the structured log records), in order. */
  logs(): Record<string, unknown>[];
  /** Resolves with the first stdout line (already seen or future) matching `match`; rejects after `timeoutMs` or on exit. */
  waitForLine(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  exited: Promise<number | null>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /**
   * Sends `signal` (default SIGTERM) and resolves with the exit code (null when the signal killed
   * it). After `timeoutMs` (default 35 s, longer than the server's 30 s drain) it SIGKILLs and rejects.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** A fresh, empty directory under the OS temp dir, removed by stopAllTalos(). Use it as `cwd`. */
export function tempDir(prefix = "talos-e2e-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

process.once("exit", () => {
  for (const p of live) {
    try {
      p.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/**
 * Kills (SIGKILL) every talos child still running and removes the directories made by tempDir().
 * Register it in every file that starts processes: `afterAll(stopAllTalos)`.
 */
export async function stopAllTalos(): Promise<void> {
  const waits = [...live].map(
    (p) =>
      new Promise<void>((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) return resolve();
        p.once("exit", () => resolve());
        p.kill("SIGKILL");
      }),
  );
  await Promise.all(waits);
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function childEnv(extra: Record<string, string | undefined> = {}, defaults: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // the caller's talos settings, and what the test runner sets for itself (NODE_ENV=test, VITEST*)
    if (k.startsWith("TALOS_") || k === "DSN" || k === "NODE_ENV" || k.startsWith("VITEST")) continue;
    env[k] = v;
  }
  Object.assign(env, defaults);
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function spawnTalos(args: string[], env: NodeJS.ProcessEnv, cwd: string): ChildProcess {
  const proc = spawn(process.execPath, [TALOS_BIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  return proc;
}

const tail = (lines: string[], n = 40) => lines.slice(-n).join("\n");

/**
 * Starts `talos <args>` and resolves once it printed `TALOS_PORTS <api> <metrics>` (i.e. both
 * listeners are bound). Rejects, with the captured stderr and stdout tail in the message, when
 * the process exits first or the timeout passes (the child is then killed).
 */
export async function startTalos(opts: StartTalosOptions): Promise<TalosProcess> {
  const env = childEnv(opts.env, {
    TALOS_PRINT_PORTS: "1",
    TALOS_SERVE_HTTP_HOST: "127.0.0.1",
    TALOS_SERVE_HTTP_PORT: "0",
    TALOS_SERVE_METRICS_HOST: "127.0.0.1",
    TALOS_SERVE_METRICS_PORT: "0",
  });
  const cwd = opts.cwd ?? tempDir();
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const proc = spawnTalos(opts.args, env, cwd);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    stdout.push(line);
    for (const l of lineListeners) l(line);
  });
  createInterface({ input: proc.stderr! }).on("line", (line) => stderr.push(line));

  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    // "close" comes after "exit" once stdout and stderr are drained; setImmediate lets readline
    // deliver the last lines before anyone looks at them
    proc.once("close", (code) => {
      setImmediate(() => {
        exitCode = code;
        resolve(code);
      });
    });
  });

  const waitForLine = (match: RegExp | ((line: string) => boolean), waitMs = 10_000): Promise<string> => {
    const test = typeof match === "function" ? match : (l: string) => match.test(l);
    const seen = stdout.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        lineListeners.delete(listener);
      };
      const listener = (line: string) => {
        if (!test(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`talos ${opts.args.join(" ")}: no stdout line matching ${String(match)} within ${waitMs} ms\nstdout:\n${tail(stdout)}\nstderr:\n${tail(stderr)}`));
      }, waitMs);
      lineListeners.add(listener);
      void exited.then((code) => {
        if (!lineListeners.has(listener)) return;
        done();
        reject(new Error(`talos ${opts.args.join(" ")} exited (code ${code}) before printing a line matching ${String(match)}\nstdout:\n${tail(stdout)}\nstderr:\n${tail(stderr)}`));
      });
    });
  };

  let portsLine: string;
  try {
    portsLine = await waitForLine(/^TALOS_PORTS \d+ \d+$/, timeoutMs);
  } catch (e) {
    proc.kill("SIGKILL");
    await exited;
    throw e;
  }
  const [, api, metrics] = portsLine.split(" ").map(Number) as [number, number, number];

  const stop = async (signal: NodeJS.Signals = "SIGTERM", stopTimeoutMs = 35_000): Promise<number | null> => {
    if (exitCode !== undefined) return exitCode;
    proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        proc.kill("SIGKILL");
        reject(new Error(`talos ${opts.args.join(" ")} did not exit within ${stopTimeoutMs} ms of ${signal}\nstderr:\n${tail(stderr)}`));
      }, stopTimeoutMs);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    apiUrl: `http://127.0.0.1:${api}`,
    metricsUrl: metrics > 0 ? `http://127.0.0.1:${metrics}` : null,
    apiPort: api,
    metricsPort: metrics,
    proc,
    pid: proc.pid!,
    cwd,
    stdout,
    stderr,
    logs: () =>
      stdout.flatMap((l) => {
        if (!l.startsWith("{")) return [];
        try {
          const v: unknown = JSON.parse(l);
          return typeof v === "object" && v !== null && !Array.isArray(v) ? [v as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
    waitForLine,
    exited,
    hasExited: () => exitCode !== undefined,
    stop,
  };
}

/**
 * Runs a one-shot command (`migrate up`, `version`, a failing `serve`) to completion. Same
 * environment rules as startTalos, without the serve defaults. SIGKILLs after `timeoutMs`
 * (default 60 s) and then resolves with code null.
 */
export async function runTalos(
  args: string[],
  env: Record<string, string | undefined> = {},
  cwd?: string,
  opts: { timeoutMs?: number } = {},
): Promise<RunResult> {
  const proc = spawnTalos(args, childEnv(env), cwd ?? tempDir());
  let stdout = "";
  let stderr = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  // "close" (not "exit"): every byte of stdout and stderr has been read by then
  const code = await new Promise<number | null>((resolve) => proc.once("close", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  /** parsed JSON body, or undefined when the body is empty or not JSON */
  body: any;
  text: string;
}

/** One HTTP call to a running talos: `body` is JSON-encoded unless it is already a string. */
export async function fetchJson(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await fetch(url, { method: init.method ?? (body === undefined ? "GET" : "POST"), headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/**
 * Per-test timeout for tests that spawn talos: a start-up costs 2–4 s on an idle machine and
 * several times that on a loaded CI runner. Use `describe(name, { timeout: E2E_TIMEOUT_MS }, …)`.
 */
export const E2E_TIMEOUT_MS = 90_000;
