/**
 * Runs a real nginx as a foreground child with the repository's own config files (nginx/*.conf),
 * their `${PLACEHOLDER}`s replaced the way envsubst would. Everything nginx writes (pid, logs,
 * *_temp paths) lives in a temp prefix, so it runs as root without touching /var.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const NGINX_DIR = fileURLToPath(new URL("../../nginx/", import.meta.url));

/** The nginx binary (PATH, then /usr/sbin), or null. */
export function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, "nginx");
    if (existsSync(p)) return p;
  }
  return null;
}

export function warnSkipNginx(what: string): void {
  console.warn(`\n!!! SKIPPED: ${what} — nginx is not installed (apt-get install nginx; .ci/run does it).\n`);
}

/** An opt-in include from nginx/public-edge.d/ as the file to place at talos-edge.d/<name> (startNginx `files`). */
export function edgeInclude(name: string): Record<string, string> {
  return { [`talos-edge.d/${name}`]: readFileSync(path.join(NGINX_DIR, "public-edge.d", name), "utf8") };
}

/** envsubst semantics: `${NAME}` is replaced when NAME is given; nginx's own `$vars` stay. */
export function renderTemplate(file: string, vars: Record<string, string>): string {
  const text = readFileSync(path.join(NGINX_DIR, file), "utf8");
  const out = text.replace(/\$\{([A-Z0-9_]+)\}/g, (m, name: string) => vars[name] ?? m);
  const left = /\$\{([A-Z0-9_]+)\}/.exec(out.replace(/^\s*#.*$/gm, ""));
  if (left) throw new Error(`${file}: placeholder ${left[0]} has no value`);
  return out;
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface NginxProcess {
  port: number;
  url: string;
  prefix: string;
  proc: ChildProcess;
  /** nginx's stderr so far (error_log stderr) */
  stderr(): string;
  accessLog(): string;
  stop(): Promise<void>;
}

/**
 * Starts nginx with `http {}` holding the rendered site file. `site(port)` returns the rendered
 * config for the chosen listen port. Resolves once the port accepts connections.
 */
export async function startNginx(site: (port: number) => string, opts: { files?: Record<string, string> } = {}): Promise<NginxProcess> {
  const bin = findNginx();
  if (!bin) throw new Error("nginx not found");
  let lastError = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const prefix = mkdtempSync(path.join(os.tmpdir(), "talos-nginx-"));
    chmodSync(prefix, 0o755); // workers run as nobody when the master is root
    writeFileSync(path.join(prefix, "site.conf"), site(port));
    // further files next to nginx.conf (opt-in includes: talos-edge.d/*.conf)
    for (const [name, text] of Object.entries(opts.files ?? {})) {
      mkdirSync(path.dirname(path.join(prefix, name)), { recursive: true });
      writeFileSync(path.join(prefix, name), text);
    }
    writeFileSync(
      path.join(prefix, "nginx.conf"),
      [
        "worker_processes 1;",
        `lock_file ${prefix}/nginx.lock;`,
        "events { worker_connections 256; }",
        "http {",
        `  access_log ${prefix}/access.log;`,
        `  client_body_temp_path ${prefix}/client_body;`,
        `  proxy_temp_path ${prefix}/proxy;`,
        `  fastcgi_temp_path ${prefix}/fastcgi;`,
        `  uwsgi_temp_path ${prefix}/uwsgi;`,
        `  scgi_temp_path ${prefix}/scgi;`,
        `  include ${prefix}/site.conf;`,
        "}",
        "",
      ].join("\n"),
    );
    const proc = spawn(bin, ["-p", prefix, "-c", `${prefix}/nginx.conf`, "-g", `daemon off; pid ${prefix}/nginx.pid; error_log stderr;`], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const up = await waitForPort(port, 10_000, () => proc.exitCode !== null || proc.signalCode !== null);
    if (!up) {
      proc.kill("SIGKILL");
      await exited;
      lastError = stderr;
      rmSync(prefix, { recursive: true, force: true });
      continue; // most likely the port was taken in between: try another one
    }
    return {
      port,
      url: `http://127.0.0.1:${port}`,
      prefix,
      proc,
      stderr: () => stderr,
      accessLog: () => (existsSync(`${prefix}/access.log`) ? readFileSync(`${prefix}/access.log`, "utf8") : ""),
      async stop() {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill("SIGTERM");
          const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(prefix, { recursive: true, force: true });
      },
    };
  }
  throw new Error(`nginx did not start:\n${lastError}`);
}

async function waitForPort(port: number, timeoutMs: number, gaveUp: () => boolean): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (gaveUp()) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** every header line, lower-cased names, in order (duplicates kept) */
  headerList: [string, string][];
  body: string;
}

/**
 * Sends bytes exactly as given (no client-side normalisation of the request target) and reads
 * the answer until the server closes the connection. Send `Connection: close`.
 */
export async function rawRequest(port: number, request: string | Buffer): Promise<RawResponse> {
  const data = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, "127.0.0.1", () => s.write(request));
    s.on("data", (d: Buffer) => chunks.push(d));
    s.once("end", () => resolve(Buffer.concat(chunks)));
    s.once("error", reject);
    s.setTimeout(10_000, () => s.destroy(new Error("raw request timed out")));
  });
  const text = data.toString("latin1");
  const split = text.indexOf("\r\n\r\n");
  const head = split < 0 ? text : text.slice(0, split);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headerList = lines.map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as [string, string];
  });
  const headers = Object.fromEntries(headerList);
  let body = split < 0 ? "" : data.subarray(Buffer.byteLength(head, "latin1") + 4);
  if (typeof body !== "string" && headers["transfer-encoding"]?.toLowerCase() === "chunked") body = dechunk(body);
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    headerList,
    body: typeof body === "string" ? body : body.toString("utf8"),
  };
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = buf.indexOf("\r\n", i);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(i, eol).toString("latin1"), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** `METHOD target` with Host, Connection: close and an optional JSON body. */
export function httpRequest(method: string, target: string, opts: { body?: string; headers?: Record<string, string> } = {}): string {
  const lines = [`${method} ${target} HTTP/1.1`, "Host: talos.test", "Connection: close"];
  for (const [k, v] of Object.entries(opts.headers ?? {})) lines.push(`${k}: ${v}`);
  if (opts.body !== undefined) lines.push("Content-Type: application/json", `Content-Length: ${Buffer.byteLength(opts.body)}`);
  return `${lines.join("\r\n")}\r\n\r\n${opts.body ?? ""}`;
}
