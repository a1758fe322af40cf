import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createServer as createTlsServer, type SecureContextOptions } from "node:tls";

/** serve.http.tls / serve.metrics.tls: PEM files; client_ca_path turns on client certificates (mTLS). */
export interface TlsFiles {
  cert_path: string;
  key_path: string;
  client_ca_path?: string;
}

/** How often the files are checked for a new certificate (stat polling survives atomic renames). */
const WATCH_MS = 500;

function contextOf(files: TlsFiles): SecureContextOptions {
  return {
    cert: readFileSync(files.cert_path),
    key: readFileSync(files.key_path),
    ...(files.client_ca_path ? { ca: readFileSync(files.client_ca_path) } : {}),
    minVersion: "TLSv1.2",
  };
}

/**
 * Serves `server` (the draining node:http server) over TLS: the TLS listener hands each decrypted
 * connection to it, so timeouts, draining and the request path stay the plain-HTTP ones. The files
 * are read again when they change (certificate rotation without restart); a half-written or bad
 * pair keeps the previous context. Client certificates are requested but not required: without one
 * only the admin API refuses (401), probes and public routes still answer.
 */
export function listenTls(
  server: Server & { drain(graceMs: number): Promise<void> },
  host: string,
  port: number,
  files: TlsFiles,
): Promise<{ server: Server; port: number; close(graceMs: number): Promise<void> }> {
  const clientCa = Boolean(files.client_ca_path);
  const tls = createTlsServer({ ...contextOf(files), requestCert: clientCa, rejectUnauthorized: false }, (socket) =>
    server.emit("connection", socket),
  );
  tls.on("tlsClientError", () => {}); // a failed handshake concerns that client only
  const paths = [files.cert_path, files.key_path, ...(files.client_ca_path ? [files.client_ca_path] : [])];
  const reload = () => {
    try {
      tls.setSecureContext(contextOf(files));
    } catch {
      // keep serving with the previous certificate until the files form a valid pair again
    }
  };
  for (const p of paths) watchFile(p, { interval: WATCH_MS }, reload);
  const close = async (graceMs: number) => {
    for (const p of paths) unwatchFile(p, reload);
    const closed = new Promise<void>((resolve) => tls.close(() => resolve()));
    await server.drain(graceMs);
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    await closed;
    clearTimeout(timer);
    clearInterval(sweep);
  };
  return new Promise((resolve, reject) => {
    tls.once("error", reject);
    tls.listen(port, host, () => {
      tls.off("error", reject);
      resolve({ server, port: (tls.address() as AddressInfo).port, close });
    });
  });
}
