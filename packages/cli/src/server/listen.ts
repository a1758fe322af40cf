import { serve, type ServerType } from "@hono/node-server";
import type { Server } from "node:http";
import type { Hono } from "hono";

/** SPEC.md §2 limits: header read 5 s, request 15 s, keep-alive idle 60 s. */
export async function listen(app: Hono<any>, host: string, port: number): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => resolve({ server, port: info.port }));
    const s = server as Server;
    s.headersTimeout = 5_000;
    s.requestTimeout = 15_000;
    s.keepAliveTimeout = 60_000;
    s.once("error", reject);
  });
}

/** Stops accepting, lets in-flight requests finish (up to graceMs), then cuts what is left. */
export async function closeServer(server: ServerType, graceMs: number): Promise<void> {
  const s = server as Server;
  const closed = new Promise<void>((resolve) => s.close(() => resolve()));
  s.closeIdleConnections();
  // A keep-alive connection whose request finishes during the drain turns idle only then; without
  // this sweep it would hold the drain open for the whole grace period.
  const sweep = setInterval(() => s.closeIdleConnections(), 50);
  const timer = setTimeout(() => s.closeAllConnections(), graceMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(timer);
}
