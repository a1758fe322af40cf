import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";

/**
 * The closed-loop load client for req/s rows: `wrk` (Debian package `wrk`), a C client that costs
 * the server's two cores far less than a Node client in the same process would. One thread, a
 * pinned connection count, a Lua script that rotates over the scenario's requests, and latency
 * percentiles from `--latency`. BENCHMARKS.md#method explains the choice.
 */

export interface WrkRequest {
  path: string;
  /** `{{seq}}` in the body becomes a value unique to this request (write rows: a fresh raw key each time) */
  body: string;
  headers?: Record<string, string>;
}

/** The placeholder a write row puts where each request needs a unique value. */
export const SEQ = "{{seq}}";

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  /** milliseconds */
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  /** connect, read, write and timeout socket errors */
  errors: number;
}

/** The wrk binary's path, or null when it is not installed. */
export function findWrk(): string | null {
  for (const p of ["wrk", "/usr/bin/wrk", "/usr/local/bin/wrk"]) {
    try {
      execFileSync(p, ["--version"], { stdio: "ignore" });
      return p;
    } catch (e) {
      // wrk --version exits 1 after printing its banner: it ran, so it exists
      if ((e as { status?: number }).status === 1) return p;
    }
  }
  return null;
}

/** A Lua string literal for any text (decimal escapes for everything that is not plain ASCII). */
function lua(s: string): string {
  let out = '"';
  for (const b of Buffer.from(s, "utf8")) {
    if (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c) out += String.fromCharCode(b);
    else out += `\\${b}`;
  }
  return `${out}"`;
}

/**
 * The script: every request formatted once in `init` (wrk sets the Host header only then), then
 * handed out in turn.
 */
export function wrkScript(requests: WrkRequest[]): string {
  if (requests.some((r) => r.body.includes(SEQ))) return uniqueScript(requests);
  const lines = ["local reqs = {}", "init = function(args)"];
  requests.forEach((r, i) => {
    lines.push(`  reqs[${i + 1}] = wrk.format("POST", ${lua(r.path)}, { ${luaHeaders(r)} }, ${lua(r.body)})`);
  });
  lines.push("end", "local i = 0", "request = function()", "  i = i % #reqs + 1", "  return reqs[i]", "end");
  return `${lines.join("\n")}\n`;
}

const luaHeaders = (r: WrkRequest) =>
  Object.entries({ "content-type": "application/json", ...r.headers })
    .map(([k, v]) => `[${lua(k)}] = ${lua(v)}`)
    .join(", ");

/**
 * Requests whose body carries `{{seq}}`: formatted per request, the placeholder replaced by a run
 * nonce and a counter, so no two requests of any run (warm-up included) write the same value.
 */
function uniqueScript(requests: WrkRequest[]): string {
  const nonce = randomBytes(6).toString("hex");
  const lines = ["local tmpl = {}", `local nonce = ${lua(nonce)}`, "local seq = 0"];
  requests.forEach((r, i) => {
    const [before, after] = [r.body.slice(0, r.body.indexOf(SEQ)), r.body.slice(r.body.indexOf(SEQ) + SEQ.length)];
    lines.push(`tmpl[${i + 1}] = { ${lua(r.path)}, { ${luaHeaders(r)} }, ${lua(before)}, ${lua(after)} }`);
  });
  lines.push(
    "request = function()",
    "  seq = seq + 1",
    "  local t = tmpl[(seq - 1) % #tmpl + 1]",
    '  return wrk.format("POST", t[1], t[2], t[3] .. nonce .. "-" .. seq .. t[4])',
    "end",
  );
  return `${lines.join("\n")}\n`;
}

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot read the duration "${text}"`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Reads wrk's `--latency` report. */
export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : 0;
  };
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m").exec(out);
    if (!m) throw new Error(`wrk printed no ${p}th percentile:\n${out}`);
    return ms(m[1]!);
  };
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!total) throw new Error(`wrk printed no request count:\n${out}`);
  const lat = /^\s+Latency\s+\S+\s+\S+\s+(\S+)/m.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const seconds = ms(`${total[2]}${total[3]}`) / 1000;
  const requests = Number(total[1]);
  return {
    requests,
    seconds,
    rps: requests / seconds,
    p50: pct("50"),
    p99: pct("99"),
    max: lat ? ms(lat[1]!) : 0,
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** One closed-loop run: `connections` connections on one thread for `seconds`. */
export function runWrk(opts: { wrk: string; url: string; requests: WrkRequest[]; connections: number; seconds: number; scriptPath: string }): Promise<WrkResult> {
  writeFileSync(opts.scriptPath, wrkScript(opts.requests));
  const args = ["-t1", `-c${opts.connections}`, `-d${opts.seconds}s`, "--timeout", "10s", "--latency", "-s", opts.scriptPath, opts.url];
  return new Promise((resolve, reject) => {
    execFile(opts.wrk, args, { timeout: (opts.seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      try {
        resolve(parseWrk(stdout));
      } catch (e) {
        reject(e);
      }
    });
  });
}
