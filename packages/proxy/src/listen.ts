import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** `":8080"` → all interfaces; `"127.0.0.1:0"`, `"[::1]:8080"` */
export function parseListen(addr: string): { host: string | undefined; port: number } {
  const i = addr.lastIndexOf(":");
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  return { host: host === "" ? undefined : host, port: Number(addr.slice(i + 1)) };
}

export async function listenOn(addr: string, handler: RequestListener): Promise<{ server: Server; port: number }> {
  const { host, port } = parseListen(addr);
  const server = createServer({ keepAliveTimeout: 65_000 }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2_000).unref();
  });
}
