import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findWrk, parseWrk, runWrk, SEQ } from "../../bench/wrk.js";

/**
 * The bench's load client (bench/wrk.ts) against a real wrk and a real HTTP server that records
 * what arrives: every scenario body must reach the server byte for byte, in rotation, and the
 * report must be read right.
 */
const WRK = findWrk();
if (!WRK) console.warn("\n!!! SKIPPED: bench wrk client — wrk is not installed (apt-get install wrk; .ci/run does it).\n");

describe.skipIf(!WRK)("bench wrk client", () => {
  const seen = new Map<string, number>();
  let server: Server;
  let url = "";
  const dir = mkdtempSync(`${tmpdir()}/talos-wrk-test-`);

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const key = `${req.method} ${req.url} ${req.headers["content-type"]} ${req.headers["x-extra"] ?? "-"} ${Buffer.concat(chunks).toString("utf8")}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        res.statusCode = req.url === "/fail" ? 500 : 200;
        res.end("{}");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const addr = server.address();
    url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends every request body unchanged, in turn, and reads the report", async () => {
    const bodies = ['{"credential":"a\\"b\\\\c"}', '{"x":[["]]"]],"y":"\u00e9\u2603"}', '{"credential":"plain"}'];
    const r = await runWrk({
      wrk: WRK!,
      url,
      requests: bodies.map((body) => ({ path: "/v", body, headers: { "x-extra": "h" } })),
      connections: 2,
      seconds: 1,
      scriptPath: `${dir}/load.lua`,
    });
    const keys = bodies.map((b) => `POST /v application/json h ${b}`);
    expect([...seen.keys()].sort()).toEqual([...keys].sort());
    const counts = keys.map((k) => seen.get(k)!);
    // strict rotation per connection: the counts differ by at most the connection count
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
    const served = counts.reduce((a, b) => a + b, 0);
    expect(r.requests).toBeGreaterThan(0);
    expect(r.requests).toBeLessThanOrEqual(served);
    expect(r.rps).toBeCloseTo(r.requests / r.seconds, 5);
    expect(r.p50).toBeGreaterThan(0);
    expect(r.p50).toBeLessThanOrEqual(r.p99);
    expect(r.p99).toBeLessThanOrEqual(r.max);
    expect(r.non2xx).toBe(0);
  });

  it("gives every request of a {{seq}} body its own value, across runs", async () => {
    const before = new Set(seen.keys());
    const run = () =>
      runWrk({ wrk: WRK!, url, requests: [{ path: "/u", body: `{"raw_key":"sk_${SEQ}_x"}` }, { path: "/w", body: `{"k":"${SEQ}"}` }], connections: 2, seconds: 1, scriptPath: `${dir}/u.lua` });
    const first = await run();
    const second = await run();
    const fresh = [...seen.entries()].filter(([k]) => !before.has(k));
    const u = fresh.filter(([k]) => k.startsWith("POST /u "));
    const w = fresh.filter(([k]) => k.startsWith("POST /w "));
    expect(u.length).toBeGreaterThan(0);
    expect(w.length).toBeGreaterThan(0);
    for (const [k, n] of fresh) {
      expect(n).toBe(1); // no value repeats, not even between the two runs
      expect(k).toMatch(/^POST \/(u application\/json - \{"raw_key":"sk_[0-9a-f]{12}-\d+_x"\}|w application\/json - \{"k":"[0-9a-f]{12}-\d+"\})$/);
    }
    expect(fresh.length).toBeGreaterThanOrEqual(first.requests + second.requests);
  });

  it("counts non-2xx answers", async () => {
    const r = await runWrk({ wrk: WRK!, url, requests: [{ path: "/fail", body: "{}" }], connections: 1, seconds: 1, scriptPath: `${dir}/fail.lua` });
    expect(r.requests).toBeGreaterThan(0);
    expect(r.non2xx).toBe(r.requests);
    expect(seen.get("POST /fail application/json - {}")).toBeGreaterThanOrEqual(r.requests);
  });
});

describe("wrk report parser", () => {
  it("reads units and socket errors", () => {
    const out = [
      "Running 1s test @ http://127.0.0.1:1",
      "  1 threads and 2 connections",
      "  Thread Stats   Avg      Stdev     Max   +/- Stdev",
      "    Latency   850.00us  100.00us   1.20s    90.00%",
      "  Latency Distribution",
      "     50%  800.00us",
      "     75%    1.00ms",
      "     90%    2.00ms",
      "     99%    3.50ms",
      "  2000 requests in 1.00s, 200.00KB read",
      "  Socket errors: connect 1, read 2, write 0, timeout 3",
      "  Non-2xx or 3xx responses: 7",
      "Requests/sec:   2000.00",
    ].join("\n");
    expect(parseWrk(out)).toEqual({ requests: 2000, seconds: 1, rps: 2000, p50: 0.8, p99: 3.5, max: 1200, non2xx: 7, errors: 6 });
  });

  it("refuses a report without percentiles", () => {
    expect(() => parseWrk("  10 requests in 1.00s")).toThrow(/50th percentile/);
  });
});
