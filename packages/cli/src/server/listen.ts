import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** docs/server.md#processes-surfaces-and-ports limits: header read 5 s, request 15 s, keep-alive idle 60 s. */
export async function listen(listener: RequestListener, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer({ headersTimeout: 5_000, requestTimeout: 15_000, keepAliveTimeout: 60_000 }, listener);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve({ server, port: (server.address() as AddressInfo).port });
    });
  });
}

/** Stops accepting, lets in-flight requests finish (up to graceMs), then cuts what is left. */
export async function closeServer(server: Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A keep-alive connection whose request finishes during the drain turns idle only then; without
  // this sweep it would hold the drain open for the whole grace period.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(timer);
}
