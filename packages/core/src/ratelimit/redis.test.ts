import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gcra } from "./gcra.js";
import type { Tat } from "./gcra.js";
import { REDIS_KEY_PREFIX, createRedisClient, createRedisRateLimiter, withFailMode } from "./index.js";
import type { RedisClientConfig } from "./index.js";

const url = process.env["TALOS_TEST_REDIS_URL"];
if (!url) {
  console.warn(
    "\n!!! SKIPPED: Redis rate-limiter tests (packages/core/src/ratelimit/redis.test.ts).\n" +
      "!!! Set TALOS_TEST_REDIS_URL=redis://127.0.0.1:6379 to run them against a real Redis.\n",
  );
}

function configFromUrl(u: string): RedisClientConfig {
  const p = new URL(u);
  return {
    addrs: [`${p.hostname}:${p.port || "6379"}`],
    password: decodeURIComponent(p.password),
    db: Number(p.pathname.slice(1) || "0"),
    timeoutMs: 2000,
    tls: p.protocol === "rediss:",
  };
}

async function ready(client: Redis): Promise<Redis> {
  if (client.status !== "ready") await once(client, "ready");
  return client;
}

/** A fresh `<nid>:<kind>:<key_id>` per test, so runs never see each other's state. */
const freshKey = (): string => `test-${randomUUID()}:issued:${randomUUID()}`;

describe.skipIf(!url)("redis rate limiter (real Redis)", () => {
  const clients: Redis[] = [];
  let a: Redis;
  let b: Redis;

  beforeAll(async () => {
    const cfg = configFromUrl(url!);
    a = await ready(createRedisClient(cfg));
    b = await ready(createRedisClient(cfg));
    clients.push(a, b);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
  });

  it("admits exactly quota out of a concurrent 3×quota burst from two clients", async () => {
    const la = createRedisRateLimiter(a);
    const lb = createRedisRateLimiter(b);
    expect(la.backend).toBe("redis");
    const key = freshKey();
    const quota = 25;
    const windowMs = 60_000;
    const burst = await Promise.all(
      Array.from({ length: 3 * quota }, (_, i) => (i % 2 === 0 ? la : lb).take(key, quota, windowMs, 0)),
    );
    const allowed = burst.filter((d) => d.allowed);
    expect(allowed).toHaveLength(quota);
    // Atomic: each remaining value handed out exactly once.
    expect(allowed.map((d) => d.remaining).sort((x, y) => x - y)).toEqual(Array.from({ length: quota }, (_, i) => i));
    for (const d of burst.filter((x) => !x.allowed)) {
      expect(d.remaining).toBe(0);
      expect(d.retryAfterS).toBeGreaterThanOrEqual(1);
      expect(d.retryAfterS).toBeLessThanOrEqual(3);
    }
    // The server's clock is reported, close to ours (the caller-supplied 0 was ignored).
    expect(Math.abs(burst[0]!.nowMs - Date.now())).toBeLessThan(60_000);
    await a.del(REDIS_KEY_PREFIX + key);
  });

  it("stores the state under talos:rl:<key> with an expiry at the TAT", async () => {
    const rl = createRedisRateLimiter(a);
    const key = freshKey();
    const d1 = await rl.take(key, 10, 60_000, Date.now());
    let pttl = await a.pttl(REDIS_KEY_PREFIX + key);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(6000);
    for (let i = 0; i < 9; i++) await rl.take(key, 10, 60_000, Date.now());
    pttl = await a.pttl(REDIS_KEY_PREFIX + key);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    const pexpiretime = await a.call("PEXPIRETIME", REDIS_KEY_PREFIX + key);
    const last = await rl.take(key, 10, 60_000, Date.now()); // rejected: state and expiry unchanged
    expect(last.allowed).toBe(false);
    expect(last.resetTimeMs).toBe(pexpiretime);
    expect(d1.resetTimeMs - d1.nowMs).toBe(6000);
    await a.del(REDIS_KEY_PREFIX + key);
  });

  it("gives the allowance back after the window (real time, Redis TIME)", async () => {
    const rl = createRedisRateLimiter(a);
    const key = freshKey();
    const first = await Promise.all([1, 2, 3].map(() => rl.take(key, 2, 1000, 0)));
    expect(first.map((d) => d.allowed).sort()).toEqual([false, true, true]);
    const rejected = first.find((d) => !d.allowed)!;
    expect(rejected.retryAfterS).toBe(1);
    await sleep(rejected.resetTimeMs - rejected.nowMs + 50);
    const again = await Promise.all([1, 2, 3].map(() => rl.take(key, 2, 1000, 0)));
    expect(again.filter((d) => d.allowed)).toHaveLength(2);
    expect(await a.exists(REDIS_KEY_PREFIX + key)).toBe(1);
    await sleep(1100);
    expect(await a.exists(REDIS_KEY_PREFIX + key)).toBe(0); // expired at the TAT
  });

  it("computes the same decisions as gcra.ts, including fractional T, huge quotas and a quota change", async () => {
    const rl = createRedisRateLimiter(a);
    const steps: [quota: number, windowMs: number][] = [
      ...Array<[number, number]>(5).fill([3, 1000]),
      ...Array<[number, number]>(4).fill([7, 3_600_000]),
      [2, 1000],
      ...Array<[number, number]>(3).fill([Number.MAX_SAFE_INTEGER, 315_360_000_000]),
      ...Array<[number, number]>(3).fill([1_000_000_007, 315_360_000_000]),
      ...Array<[number, number]>(3).fill([Number.MAX_SAFE_INTEGER - 12345, 1000]),
    ];
    const key = freshKey();
    for (const [quota, windowMs] of steps) {
      const raw = await a.get(REDIS_KEY_PREFIX + key);
      const parts = raw?.split(":").map(Number);
      const tat: Tat | null = parts ? { ms: parts[0]!, frac: parts[1]!, quota: parts[2]! } : null;
      const got = await rl.take(key, quota, windowMs, 0);
      const want = gcra(tat, got.nowMs, quota, windowMs);
      expect(got, `quota ${quota} window ${windowMs}`).toEqual({
        allowed: want.allowed,
        remaining: want.remaining,
        retryAfterS: want.retryAfterS,
        resetTimeMs: want.resetTimeMs,
        nowMs: got.nowMs,
      });
      if (want.newTat) {
        const n = want.newTat;
        expect(await a.get(REDIS_KEY_PREFIX + key)).toBe(`${n.ms}:${n.frac}:${n.quota}`);
      }
    }
    await a.del(REDIS_KEY_PREFIX + key);
  });
});

// These need no Redis: they check that a dead or hung backend fails fast and maps per docs/verification.md#rate-limit-backends.
describe("redis rate limiter backend failures", () => {
  const timeoutMs = 300;
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let hungPort = 0;
  let noScriptPort = 0;
  let evals = 0;

  /** A fake Redis answering the handshake (CLIENT SETINFO, INFO); other commands go to `reply`. */
  async function fakeRedis(reply: (cmd: string) => string | undefined): Promise<number> {
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("data", (buf) => {
        for (const [, cmd] of buf.toString().matchAll(/\*\d+\r\n\$\d+\r\n(\w+)\r\n/g)) {
          const body = "# Server\r\nloading:0\r\n";
          const out = /^client$/i.test(cmd!) ? "+OK\r\n"
            : /^info$/i.test(cmd!) ? `$${body.length}\r\n${body}\r\n`
            : reply(cmd!.toLowerCase());
          if (out !== undefined) socket.write(out);
        }
      });
    });
    servers.push(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return (server.address() as AddressInfo).port;
  }

  beforeAll(async () => {
    hungPort = await fakeRedis(() => undefined); // connected, then silent: hung, not refused
    noScriptPort = await fakeRedis((cmd) => {
      if (cmd === "evalsha") return "-NOSCRIPT No matching script. Please use EVAL.\r\n";
      if (cmd === "eval") return (evals++, "*5\r\n:1\r\n:4\r\n:0\r\n:1000\r\n:0\r\n");
      return "-ERR unexpected\r\n";
    });
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    for (const server of servers) server.close();
  });

  const cfg = (addr: string): RedisClientConfig => ({ addrs: [addr], password: "", db: 0, timeoutMs, tls: false });

  it("rejects quickly when nothing listens, and withFailMode maps it to open or closed", async () => {
    const errors: unknown[] = [];
    const client = createRedisClient(cfg("127.0.0.1:1"), { onError: (e) => errors.push(e) });
    try {
      const rl = createRedisRateLimiter(client);
      const started = performance.now();
      await expect(rl.take(freshKey(), 10, 60_000, Date.now())).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(timeoutMs + 1000);

      const seen: unknown[] = [];
      const open = withFailMode(rl, { failOpen: true, onError: (e) => seen.push(e) });
      const closed = withFailMode(rl, { failOpen: false, onError: (e) => seen.push(e) });
      expect(await open(freshKey(), 10, 60_000, Date.now())).toEqual({ error: true, allowed: true });
      expect(await closed(freshKey(), 10, 60_000, Date.now())).toEqual({ error: true, allowed: false });
      expect(seen).toHaveLength(2);
      expect(seen.every((e) => e instanceof Error)).toBe(true);
      await sleep(50);
      expect(errors.length).toBeGreaterThan(0); // connection errors reached onError, not the process
    } finally {
      client.disconnect();
    }
  });

  it("times out instead of hanging when the server stops answering", async () => {
    const client = createRedisClient(cfg(`127.0.0.1:${hungPort}`));
    try {
      await ready(client);
      const rl = createRedisRateLimiter(client);
      const started = performance.now();
      await expect(rl.take(freshKey(), 10, 60_000, Date.now())).rejects.toThrow(/timed out/i);
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(took).toBeLessThan(timeoutMs + 1000);
      const r = await withFailMode(rl, { failOpen: false, onError: () => {} })(freshKey(), 10, 60_000, Date.now());
      expect(r).toEqual({ error: true, allowed: false });
    } finally {
      client.disconnect();
    }
  });

  it("falls back to EVAL when the server does not know the script (NOSCRIPT)", async () => {
    const client = createRedisClient(cfg(`127.0.0.1:${noScriptPort}`));
    try {
      await ready(client);
      const d = await createRedisRateLimiter(client).take(freshKey(), 5, 1000, 0);
      expect(d).toEqual({ allowed: true, remaining: 4, retryAfterS: 0, resetTimeMs: 1000, nowMs: 0 });
      expect(evals).toBe(1);
    } finally {
      client.disconnect();
    }
  });

  it("passes decisions through withFailMode unchanged", async () => {
    const { createMemoryRateLimiter } = await import("./memory.js");
    const f = withFailMode(createMemoryRateLimiter(), { failOpen: false, onError: () => { throw new Error("not called"); } });
    expect(await f("k", 1, 1000, 5000)).toEqual({ allowed: true, remaining: 0, retryAfterS: 0, resetTimeMs: 6000, nowMs: 5000 });
  });

  it("parses addresses", async () => {
    const { parseRedisAddr } = await import("./redis-client.js");
    expect(parseRedisAddr("redis.internal:6380")).toEqual({ host: "redis.internal", port: 6380 });
    expect(parseRedisAddr("[::1]:7000")).toEqual({ host: "::1", port: 7000 });
    expect(parseRedisAddr("localhost")).toEqual({ host: "localhost", port: 6379 });
    expect(() => parseRedisAddr("host:99999")).toThrow();
    expect(() => parseRedisAddr("")).toThrow();
    expect(() => createRedisClient({ addrs: [], password: "", db: 0, timeoutMs: 100, tls: false })).toThrow();
  });
});
