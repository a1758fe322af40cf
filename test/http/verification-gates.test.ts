import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOn, startTestServer, testDatabases, type TestServer } from "../support/harness.js";
import { manualClock } from "../support/http-expect.js";

const ISSUE = "/v2alpha1/admin/issuedApiKeys";
const VERIFY = "/v2alpha1/admin/apiKeys:verify";
const BATCH = "/v2alpha1/admin/apiKeys:batchVerify";

async function issue(s: TestServer, body: Record<string, unknown>): Promise<{ secret: string; keyId: string }> {
  const r = await s.request("POST", ISSUE, { actor_id: `gates-${randomUUID()}`, ...body });
  expect(r.status, r.text).toBe(201);
  return { secret: r.body.secret, keyId: r.body.issued_api_key.key_id };
}

const verify = (s: TestServer, credential: string, headers: Record<string, string> = {}, remote = "127.0.0.1") =>
  s.request("POST", VERIFY, { credential }, headers, remote);

describe("IP allowlists per client IP source", () => {
  const sources = [
    { source: "CLIENT_IP_SOURCE_UNSPECIFIED", header: null },
    { source: "CLIENT_IP_SOURCE_REMOTE_ADDR", header: null },
    { source: "CLIENT_IP_SOURCE_X_FORWARDED_FOR", header: "X-Forwarded-For" },
    { source: "CLIENT_IP_SOURCE_X_REAL_IP", header: "X-Real-IP" },
    { source: "CLIENT_IP_SOURCE_CF_CONNECTING_IP", header: "CF-Connecting-IP" },
    { source: "CLIENT_IP_SOURCE_TRUE_CLIENT_IP", header: "True-Client-IP" },
  ] as const;
  // One server; the source is read per request from the injected config, so each case sets it.
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());
  const servers = {
    get(source: (typeof sources)[number]["source"]): TestServer {
      server.config.serve.http.client_ip_source = source;
      return server;
    },
  };

  /** Sends `ip` the way the source reads it; with a header source the socket peer is a decoy. */
  function from(source: (typeof sources)[number], s: TestServer, credential: string, ip: string, extra = "") {
    if (!source.header) return verify(s, credential, {}, ip);
    const value = source.header === "X-Forwarded-For" ? `${ip}${extra}` : ip;
    return verify(s, credential, { [source.header]: value }, "192.0.2.250");
  }

  for (const src of sources) {
    it(`${src.source}: v4, v6 and IPv4-mapped addresses`, async () => {
      const s = servers.get(src.source)!;
      const k = await issue(s, { ip_restriction: { allowed_cidrs: ["10.1.0.0/16", "2001:db8::/32"] } });
      const ok4 = await from(src, s, k.secret, "10.1.2.3", ", 203.0.113.9");
      expect(ok4.body.is_valid).toBe(true);
      expect(ok4.headers.get("cache-control")).toBe("no-store");
      expect((await from(src, s, k.secret, "2001:db8::42")).body.is_valid).toBe(true);
      expect((await from(src, s, k.secret, "::ffff:10.1.9.9")).body.is_valid).toBe(true);
      const denied = await from(src, s, k.secret, "10.2.0.1");
      expect(denied.body).toMatchObject({
        is_valid: false,
        error_code: "VERIFICATION_ERROR_IP_NOT_ALLOWED",
        status: "KEY_STATUS_UNSPECIFIED",
        key_id: k.keyId,
      });
      expect(denied.headers.get("cache-control")).toBe("no-store");
      expect((await from(src, s, k.secret, "2001:db9::1")).body.error_code).toBe("VERIFICATION_ERROR_IP_NOT_ALLOWED");
    });
  }

  it("a header source falls back to the socket peer when the header is absent, and fails closed when unparseable", async () => {
    const s = servers.get("CLIENT_IP_SOURCE_X_REAL_IP")!;
    const k = await issue(s, { ip_restriction: { allowed_cidrs: ["10.1.0.0/16"] } });
    expect((await verify(s, k.secret, {}, "10.1.0.7")).body.is_valid).toBe(true);
    expect((await verify(s, k.secret, { "X-Real-IP": "not-an-ip" }, "10.1.0.7")).body.error_code).toBe("VERIFICATION_ERROR_IP_NOT_ALLOWED");
  });

  it("keys without CIDRs ignore the client address and are cacheable", async () => {
    const s = servers.get("CLIENT_IP_SOURCE_UNSPECIFIED")!;
    const k = await issue(s, {});
    const r = await verify(s, k.secret, {}, "198.51.100.1");
    expect(r.body.is_valid).toBe(true);
    expect(r.headers.get("cache-control")).toBeNull();
  });
});

describe.each(testDatabases())("rate limits (memory backend) on $name", (db) => {
  // a manual clock: every request of a test happens at the instant the test says, however slow the machine
  const clock = manualClock();
  let s: TestServer;
  beforeAll(async () => {
    s = await startOn(db, { clock: clock.read });
  });
  afterAll(() => s?.close());

  it("a burst of 3Q gets exactly Q allowed, with headers and body fields of docs/verification.md#rate-limits", async () => {
    const Q = 10;
    const k = await issue(s, { rate_limit_policy: { quota: String(Q), window: "60s" } });
    const now = clock.nextSecond();
    const results = [];
    for (let i = 0; i < 3 * Q; i++) results.push(await verify(s, k.secret));
    const allowed = results.filter((r) => r.body.is_valid);
    expect(allowed).toHaveLength(Q);
    expect(allowed.map((r) => Number(r.body.rate_limit_remaining))).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(allowed[0]!.headers.get("ratelimit-policy")).toBe('"default";q=10;w=60');
    expect(allowed[0]!.headers.get("ratelimit")).toBe('"default";r=9;t=6');
    expect(Date.parse(allowed[0]!.body.rate_limit_reset_time)).toBe(now + 6000);
    expect(allowed[Q - 1]!.headers.get("ratelimit")).toBe('"default";r=0;t=60');
    const limited = results[Q]!;
    expect(limited.body).toMatchObject({
      is_valid: false,
      error_code: "VERIFICATION_ERROR_RATE_LIMITED",
      error_message: "rate limit exceeded",
      key_id: k.keyId,
      rate_limit_remaining: "0",
      rate_limit_policy: { quota: "10", window: "60s", unit: "" },
    });
    expect(Date.parse(limited.body.rate_limit_reset_time)).toBe(now + 60_000);
    expect(limited.headers.get("retry-after")).toBe("6"); // docs/verification.md#gcra's example
    expect(limited.headers.get("ratelimit")).toBe('"default";r=0;t=60');
    // Rate limiting applies on cache hits too.
    expect(results.slice(1).every((r) => r.headers.get("ory-talos-cache") === "HIT")).toBe(true);
  });

  it("the allowance comes back after the window", async () => {
    const k = await issue(s, { rate_limit_policy: { quota: "2", window: "1s" } });
    clock.nextSecond();
    expect((await verify(s, k.secret)).body.is_valid).toBe(true);
    expect((await verify(s, k.secret)).body.is_valid).toBe(true);
    expect((await verify(s, k.secret)).body.error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
    clock.tick(499); // T = 500 ms: not yet
    expect((await verify(s, k.secret)).body.error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
    clock.tick(1); // one emission interval: one request
    expect((await verify(s, k.secret)).body.is_valid).toBe(true);
    expect((await verify(s, k.secret)).body.error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
    clock.tick(1000); // a whole window: the whole quota
    expect((await verify(s, k.secret)).body.is_valid).toBe(true);
    expect((await verify(s, k.secret)).body.is_valid).toBe(true);
    expect((await verify(s, k.secret)).body.error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
  });

  it("units other than requests are echoed but not enforced", async () => {
    const k = await issue(s, { rate_limit_policy: { quota: "1", window: "60s", unit: "content-bytes" } });
    for (let i = 0; i < 3; i++) {
      const r = await verify(s, k.secret);
      expect(r.body.is_valid).toBe(true);
      expect(r.headers.get("ratelimit")).toBeNull();
      expect(r.headers.get("ratelimit-policy")).toBe('"default";q=1;w=60;qu="content-bytes"');
    }
  });

  it("invalid (revoked) keys consume no quota, and batch items are limited per key without RateLimit headers", async () => {
    const k = await issue(s, { rate_limit_policy: { quota: "3", window: "60s" } });
    const r = await s.request("POST", BATCH, { requests: Array.from({ length: 5 }, () => ({ credential: k.secret })) });
    expect(r.status).toBe(200);
    expect(r.body.results.map((x: { is_valid: boolean }) => x.is_valid)).toEqual([true, true, true, false, false]);
    expect(r.body.results[3].error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
    expect(r.headers.get("ratelimit")).toBeNull();
    expect(r.headers.get("retry-after")).toBeNull();
  });
});

describe("rate limiting switched off", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ overrides: { "rate_limit.enabled": false } });
  });
  afterAll(() => s?.close());

  it("keeps RateLimit-Policy but never limits, and the response stays cacheable", async () => {
    const k = await issue(s, { rate_limit_policy: { quota: "1", window: "60s" } });
    for (let i = 0; i < 3; i++) {
      const r = await verify(s, k.secret);
      expect(r.body.is_valid).toBe(true);
      expect(r.headers.get("ratelimit-policy")).toBe('"default";q=1;w=60');
      expect(r.headers.get("ratelimit")).toBeNull();
      expect(r.headers.get("cache-control")).toBeNull();
    }
  });
});

describe.each(testDatabases())("last_used_time on $name", (db) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startOn(db, { overrides: { "last_used.flush_interval": "1h" } });
  });
  afterAll(() => s?.close());

  it("is set after a verify once flushed, and written at most once per key per day", async () => {
    const k = await issue(s, {});
    expect((await s.request("GET", `${ISSUE}/${k.keyId}`)).body.last_used_time).toBeNull();
    const repo = s.built.store.repo;
    const touch = repo.touchLastUsed.bind(repo);
    const written: string[] = [];
    repo.touchLastUsed = async (entries) => {
      written.push(...entries.map((e) => e.keyId));
      return touch(entries);
    };
    try {
      for (let i = 0; i < 5; i++) expect((await verify(s, k.secret)).body.is_valid).toBe(true);
      expect((await s.request("GET", `${ISSUE}/${k.keyId}`)).body.last_used_time).toBeNull(); // not on the request path
      await s.built.runtime.lastUsed.flush();
      const after = await s.request("GET", `${ISSUE}/${k.keyId}`);
      expect(after.body.last_used_time).not.toBeNull();
      expect(Date.parse(after.body.last_used_time)).toBeLessThanOrEqual(Date.now());
      for (let i = 0; i < 5; i++) await verify(s, k.secret);
      await s.built.runtime.lastUsed.flush();
      expect(written.filter((id) => id === k.keyId)).toHaveLength(1);
    } finally {
      repo.touchLastUsed = touch;
    }
  });

  it("failed verifications are not uses", async () => {
    const k = await issue(s, {});
    await s.request("POST", `${ISSUE}/${k.keyId}:revoke`, {});
    await verify(s, k.secret);
    await s.built.runtime.lastUsed.flush();
    expect((await s.request("GET", `${ISSUE}/${k.keyId}`)).body.last_used_time).toBeNull();
  });
});
