import { TEST_DSN, freshDatabase, warnSkip } from "./postgres.js";
import { loadConfig, type Clock, type Config } from "@talos/core";
import { silentLogger, type AppDeps } from "@talos/http";
import { createServer, type Mode, type TalosServer } from "@talos/server";

export const TEST_SECRET = "test-hmac-secret-0123456789abcdef-xyz";
export const TEST_ISSUER = "https://talos.test";

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export interface TestServer {
  config: Config;
  deps: AppDeps;
  built: TalosServer;
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>, remoteAddress?: string): Promise<TestResponse>;
  close(): Promise<void>;
}

/**
 * A real server in process: the same wiring as `talos serve` (createServer), driven through
 * app.request. `overrides` are dotted config paths; the database defaults to `memory`.
 */
export async function startTestServer(opts: { mode?: Mode; overrides?: Record<string, unknown>; clock?: Clock } = {}): Promise<TestServer> {
  const { config } = loadConfig({
    env: {},
    overrides: {
      "db.dsn": "memory",
      "secrets.hmac.current": TEST_SECRET,
      "credentials.issuer": TEST_ISSUER,
      "last_used.flush_interval": "100ms",
      ...opts.overrides,
    },
  });
  const built = await createServer(config, { logger: silentLogger, migrate: true, clock: opts.clock });
  const app = built.app(opts.mode ?? "all");
  return {
    config,
    deps: built.deps,
    built,
    async request(method, path, body, headers = {}, remoteAddress = "127.0.0.1") {
      const init: RequestInit = { method, headers };
      if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
      const res = await app.request(path, init, { incoming: { socket: { remoteAddress } } });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    close: () => built.close(),
  };
}

export interface TestDatabase {
  name: string;
  /** creates the database (PostgreSQL: a fresh one) and returns its DSN plus cleanup */
  create(): Promise<{ dsn: string; drop: () => Promise<void> }>;
}

/**
 * The databases every store-touching suite runs on: the embedded one always, PostgreSQL when
 * TALOS_TEST_DSN is set (otherwise a loud warning, never a silent skip).
 */
export function testDatabases(): TestDatabase[] {
  const list: TestDatabase[] = [{ name: "embedded", create: async () => ({ dsn: "memory", drop: async () => {} }) }];
  if (TEST_DSN) list.push({ name: "postgres", create: () => freshDatabase() });
  else warnSkip("PostgreSQL variant of this suite");
  return list;
}

/** startTestServer on a database from testDatabases(); close() also drops the database. */
export async function startOn(db: TestDatabase, opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const { dsn, drop } = await db.create();
  const s = await startTestServer({ ...opts, overrides: { "db.dsn": dsn, ...opts.overrides } });
  return {
    ...s,
    async close() {
      await s.close();
      await drop();
    },
  };
}
