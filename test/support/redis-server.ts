/**
 * A private redis-server on a free port, for tests that pause, flush or stop Redis: doing that to
 * the shared instance (TALOS_TEST_REDIS_URL) would disturb every other test using it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";

/** The redis-server binary (PATH, then the usual system paths), or null. */
export function findRedisServer(): string | null {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/bin", "/usr/local/bin", "/usr/sbin"];
  for (const d of dirs) {
    if (d && existsSync(path.join(d, "redis-server"))) return path.join(d, "redis-server");
  }
  return null;
}

export interface PrivateRedis {
  port: number;
  /** `127.0.0.1:<port>`, as `cache.redis.addrs` takes it */
  addr: string;
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True once the server answers PING on `port` with +PONG. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => s.write("PING\r\n"));
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.once("data", (d) => (s.destroy(), resolve(d.toString().startsWith("+PONG"))));
    s.once("error", () => resolve(false));
  });
}

/** Starts redis-server (no persistence) and resolves once it answers PING. */
export async function startPrivateRedis(bin: string): Promise<PrivateRedis> {
  let lastError = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
    proc.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const until = Date.now() + 15_000;
    let up = false;
    while (!up && Date.now() < until && proc.exitCode === null && proc.signalCode === null) {
      up = await pong(port);
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    if (!up) {
      proc.kill("SIGKILL");
      await exited;
      lastError = output;
      continue; // most likely the port was taken in between: try another one
    }
    return {
      port,
      addr: `127.0.0.1:${port}`,
      url: `redis://127.0.0.1:${port}`,
      proc,
      async stop() {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      },
    };
  }
  throw new Error(`redis-server did not start:\n${lastError}`);
}
