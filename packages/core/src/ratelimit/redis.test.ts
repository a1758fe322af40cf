import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { gcra, gcraPeek } from "./gcra.js";
import type { Tat } from "./gcra.js";
import { REDIS_KEY_PREFIX, createRedisClient, createRedisRateLimiter, withFailMode } from "./index.js";
import type { RedisClientConfig } from "./index.js";
import { findRedisServer, startPrivateRedis, type PrivateRedis } from "../../../../test/support/redis-server.js";

const url = process.env["TALOS_TEST_REDIS_URL"];
const REDIS_SERVER = findRedisServer();
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
    // expires at the TAT (about 1 s from now, by Redis's clock)
    await vi.waitFor(async () => expect(await a.exists(REDIS_KEY_PREFIX + key)).toBe(0), { timeout: 10_000, interval: 50 });
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


describe.skipIf(!url)("redis rate limiter peek (real Redis)", () => {
  let a: Redis;
  beforeAll(async () => {
    a = await ready(createRedisClient(configFromUrl(url!)));
  });
  afterAll(async () => {
    await a?.quit();
  });

  it("reads the bucket without creating, changing or extending it", async () => {
    const rl = createRedisRateLimiter(a);
    const key = freshKey();
    const fresh = await rl.peek(key, 5, 3_600_000, 0);
    expect(fresh).toEqual({ remaining: 5, resetTimeMs: fresh.nowMs, nowMs: fresh.nowMs });
    expect(Math.abs(fresh.nowMs - Date.now())).toBeLessThan(60_000); // the server's clock
    expect(await a.exists(REDIS_KEY_PREFIX + key)).toBe(0); // looking created nothing

    for (let i = 0; i < 3; i++) await rl.take(key, 5, 3_600_000, 0);
    const stored = await a.get(REDIS_KEY_PREFIX + key);
    const expires = await a.call("PEXPIRETIME", REDIS_KEY_PREFIX + key);
    for (let i = 0; i < 5; i++) {
      const p = await rl.peek(key, 5, 3_600_000, 0);
      expect(p.remaining).toBe(2);
      expect(p.resetTimeMs).toBe(expires);
    }
    expect(await a.get(REDIS_KEY_PREFIX + key)).toBe(stored);
    expect(await a.call("PEXPIRETIME", REDIS_KEY_PREFIX + key)).toBe(expires);
    // the next take sees what it would have seen without the peeks
    expect(await rl.take(key, 5, 3_600_000, 0)).toMatchObject({ allowed: true, remaining: 1 });
    expect((await rl.peek(key, 5, 3_600_000, 0)).remaining).toBe(1);
    await a.del(REDIS_KEY_PREFIX + key);
  });

  it("agrees with gcraPeek on the stored state, including a quota change and an exhausted bucket", async () => {
    const rl = createRedisRateLimiter(a);
    const key = freshKey();
    for (const [quota, windowMs, takes] of [[3, 1000, 2], [7, 3_600_000, 9], [2, 1000, 1], [1_000_000_007, 315_360_000_000, 2]] as const) {
      for (let i = 0; i < takes; i++) await rl.take(key, quota, windowMs, 0);
      const raw = await a.get(REDIS_KEY_PREFIX + key);
      const parts = raw?.split(":").map(Number);
      const tat: Tat | null = parts ? { ms: parts[0]!, frac: parts[1]!, quota: parts[2]! } : null;
      const got = await rl.peek(key, quota, windowMs, 0);
      expect(got, `quota ${quota} window ${windowMs}`).toEqual({ ...gcraPeek(tat, got.nowMs, quota, windowMs), nowMs: got.nowMs });
    }
    await a.del(REDIS_KEY_PREFIX + key);
  });

  it("rejects invalid input before asking Redis", async () => {
    await expect(createRedisRateLimiter(a).peek(freshKey(), 0, 1000, 0)).rejects.toThrow(RangeError);
  });
});

// These need no Redis server: a dead backend fails fast and maps per docs/verification.md#rate-limit-backends.
describe("redis rate limiter backend failures", () => {
  const timeoutMs = 300;
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
      // connection errors reach onError, not the process
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5000, interval: 20 });
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

if (!REDIS_SERVER) {
  console.warn(
    "\n!!! SKIPPED: Redis rate limiter against a hung server and after SCRIPT FLUSH (packages/core/src/ratelimit/redis.test.ts).\n" +
      "!!! Install redis-server (apt-get install redis-server) to run them on a private instance.\n",
  );
}

// A private redis-server per suite: pausing or flushing it disturbs no one else.
describe.skipIf(!REDIS_SERVER)("redis rate limiter on a private redis-server: hung server, NOSCRIPT", () => {
  const timeoutMs = 300;
  let server: PrivateRedis;
  let admin: Redis;
  const clients: Redis[] = [];
  const connect = async (): Promise<Redis> => {
    const c = await ready(createRedisClient({ addrs: [server.addr], password: "", db: 0, timeoutMs, tls: false }));
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startPrivateRedis(REDIS_SERVER!);
    admin = await connect();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  it("times out instead of hanging while the server accepts but does not answer (CLIENT PAUSE), then recovers", async () => {
    const client = await connect();
    const rl = createRedisRateLimiter(client);
    expect((await rl.take(freshKey(), 10, 60_000, 0)).allowed).toBe(true); // script cached, connection ready
    // WRITE pauses every script call but lets CLIENT UNPAUSE through
    await admin.call("CLIENT", "PAUSE", "20000", "WRITE");
    try {
      const started = performance.now();
      await expect(rl.take(freshKey(), 10, 60_000, Date.now())).rejects.toThrow(/timed out/i);
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(took).toBeLessThan(timeoutMs + 1000);
      const r = await withFailMode(rl, { failOpen: false, onError: () => {} })(freshKey(), 10, 60_000, Date.now());
      expect(r).toEqual({ error: true, allowed: false });
    } finally {
      await admin.call("CLIENT", "UNPAUSE");
    }
    await vi.waitFor(async () => expect((await rl.take(freshKey(), 10, 60_000, 0)).allowed).toBe(true), { timeout: 10_000, interval: 100 });
  });

  it("falls back to EVAL when the server does not know the script (NOSCRIPT), on first use and after SCRIPT FLUSH", async () => {
    const client = await connect();
    const rl = createRedisRateLimiter(client);
    await admin.script("FLUSH");
    await admin.config("RESETSTAT");
    expect(await cachedScripts(admin)).toBe(0);

    const key = freshKey();
    const d = await rl.take(key, 5, 1000, 0);
    expect(d).toEqual({ ...stripTat(gcra(null, d.nowMs, 5, 1000)), nowMs: d.nowMs });
    expect(await cachedScripts(admin)).toBe(1);
    expect(await commandCalls(admin, "eval")).toBe(1);

    const d2 = await rl.take(key, 5, 1000, 0); // the script is known now: EVALSHA alone
    expect(d2.allowed).toBe(true);
    expect(d2.remaining).toBeLessThanOrEqual(3);
    expect(await commandCalls(admin, "eval")).toBe(1);

    await admin.script("FLUSH");
    const d3 = await rl.take(key, 5, 1000, 0);
    expect(d3.allowed).toBe(true);
    expect(await commandCalls(admin, "eval")).toBe(2);
    expect(await cachedScripts(admin)).toBe(1);
    expect(await commandCalls(admin, "evalsha")).toBe(3); // one NOSCRIPT each time, plus the cached call
  });
});

function stripTat(d: ReturnType<typeof gcra>): Omit<ReturnType<typeof gcra>, "newTat"> {
  const { newTat: _, ...rest } = d;
  return rest;
}

async function info(client: Redis, section: string): Promise<Map<string, string>> {
  const text = (await client.info(section)) as string;
  return new Map(text.split("\r\n").filter((l) => l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]));
}

async function cachedScripts(client: Redis): Promise<number> {
  return Number((await info(client, "memory")).get("number_of_cached_scripts"));
}

/** `calls=` of INFO commandstats for one command (0 when never called since CONFIG RESETSTAT). */
async function commandCalls(client: Redis, cmd: string): Promise<number> {
  const line = (await info(client, "commandstats")).get(`cmdstat_${cmd}`) ?? "calls=0";
  return Number(/calls=(\d+)/.exec(line)![1]);
}
