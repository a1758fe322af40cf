/**
 * `talos proxy` end-to-end helpers: a central server (PostgreSQL when TALOS_TEST_DSN is set, else the
 * embedded database), proxies as child processes, raw HTTP with a chosen Host header, and a TCP relay
 * whose connections a test can cut (to break the invalidation stream mid-test).
 */
import { request } from "node:http";
import { createServer, type Server, type Socket, connect } from "node:net";
import { TEST_DSN, freshDatabase } from "./postgres.js";
import { startTalos, tempDir, type TalosProcess } from "./process.js";

export const PROXY_SECRET = "e2e-proxy-hmac-secret-0123456789abcdef";

export interface Central {
  server: TalosProcess;
  drop(): Promise<void>;
}

/** One central admin server; `env` adds settings (Redis, rate limiter, client IP source). */
export async function startCentral(env: Record<string, string> = {}): Promise<Central> {
  const db = TEST_DSN ? await freshDatabase("talos_proxy") : null;
  const dsn = db ? db.dsn : `pglite://${tempDir("talos-proxy-db-")}/db`;
  const server = await startTalos({
    args: ["serve", "admin", ...(db ? ["--migrate"] : [])],
    env: { TALOS_DB_DSN: dsn, TALOS_SECRETS_HMAC_CURRENT: PROXY_SECRET, TALOS_CREDENTIALS_ISSUER: "https://proxy.e2e.talos.test", TALOS_LOG_LEVEL: "warn", ...env },
    startTimeoutMs: 120_000,
  });
  return { server, drop: async () => void (await db?.drop()) };
}

/** `talos proxy <args>` on free ports; resolves once it listens (and, unless `noWait`, its invalidation feed is live). */
export async function startProxyProcess(args: string[], env: Record<string, string> = {}, opts: { noWait?: boolean } = {}): Promise<TalosProcess> {
  const p = await startTalos({
    args: ["proxy", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", ...args],
    env: { TALOS_LOG_LEVEL: "info", ...env },
    startTimeoutMs: 120_000,
  });
  if (!opts.noWait) await p.waitForLine(/invalidation feed connected/, 30_000);
  return p;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** HTTP/1.1 with any headers (fetch cannot set Host). */
export function raw(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: init.method ?? (init.body === undefined ? "GET" : "POST"), headers: init.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

/** POST apiKeys:verify through `base` with Host `host`. */
export function verifyVia(base: string, credential: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return raw(`${base}/v2alpha1/admin/apiKeys:verify`, { body: JSON.stringify({ credential }), headers: { "content-type": "application/json", ...headers } });
}

/** A TCP relay to `target` port; cut() drops every connection and refuses new ones for `downMs`. */
export async function startRelay(targetPort: number): Promise<{ port: number; cut(downMs: number): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server;
  const listen = (port: number) =>
    new Promise<number>((resolve) => {
      server = createServer((client) => {
        const up = connect(targetPort, "127.0.0.1");
        for (const s of [client, up]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => {});
        }
        client.pipe(up).pipe(client);
      });
      server.listen(port, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
    });
  const port = await listen(0);
  const close = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  return {
    port,
    async cut(downMs) {
      await close();
      await new Promise((r) => setTimeout(r, downMs));
      await listen(port);
    },
    close,
  };
}

export function metric(text: string, name: string, labels = ""): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `) || (labels === "" && l.startsWith(`${name} `)));
  return line ? Number(line.split(" ")[1]) : 0;
}
