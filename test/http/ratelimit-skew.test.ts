import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

const REDIS_URL = process.env.TALOS_TEST_REDIS_URL;
if (!REDIS_URL) console.warn("\n!!! SKIPPED: shared rate limiter under clock skew — set TALOS_TEST_REDIS_URL (CI does).\n");

/** The Redis backend decides on Redis's clock; headers and body must still read right on ours. */
describe.skipIf(!REDIS_URL)("Redis rate limiter with a skewed server clock", () => {
  const SKEW_MS = 3_600_000; // this instance runs an hour ahead of Redis
  let s: TestServer;
  beforeAll(async () => {
    const addr = new URL(REDIS_URL!).host;
    s = await startTestServer({
      clock: () => Date.now() + SKEW_MS,
      overrides: { "rate_limit.backend": "redis", "cache.redis.addrs": [addr] },
    });
  });
  afterAll(() => s?.close());

  it("reports RateLimit t= and rate_limit_reset_time relative to the server's own clock", async () => {
    const issued = await s.request("POST", "/v2alpha1/admin/issuedApiKeys", { actor_id: "skew", rate_limit_policy: { quota: "2", window: "60s" } });
    expect(issued.status).toBe(201);
    const secret = issued.body.secret as string;
    const first = await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: secret });
    expect(first.body.is_valid).toBe(true);
    // reset = one emission interval (30 s) after now, on the server clock
    expect(first.headers.get("ratelimit")).toMatch(/^"default";r=1;t=(29|30)$/);
    const reset = Date.parse(first.body.rate_limit_reset_time);
    expect(Math.abs(reset - (Date.now() + SKEW_MS + 30_000))).toBeLessThan(5_000);
    await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: secret });
    const limited = await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: secret });
    expect(limited.body.error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
    expect(limited.headers.get("ratelimit")).toMatch(/^"default";r=0;t=(59|60)$/);
  });
});
