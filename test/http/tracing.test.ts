import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Listening } from "@talos/server";
import { TEST_SECRET, startTestServer, type TestServer } from "../support/harness.js";
import { ISSUED, VERIFY, actor } from "../support/http-expect.js";
import { startOtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.js";
import { REDIS_URL, redisAddr } from "../support/redis.js";

/** docs/observability.md#tracing: spans reach a real OTLP/HTTP receiver with the documented names and parents. */
describe("OpenTelemetry tracing", () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  /** sample_rate 1: every request traced */
  let on: TestServer;
  let onApi: Listening;
  /** sample_rate 1, the Redis rate limiter and invalidations over Redis (when TALOS_TEST_REDIS_URL is set) */
  let withRedis: TestServer | null = null;
  let withRedisApi: Listening;
  /** sample_rate 0: only requests with a sampled traceparent */
  let off: TestServer;
  let offApi: Listening;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    const tracing = { "tracing.enabled": true, "tracing.endpoint": receiver.url, "tracing.environment": "test" };
    on = await startTestServer({ overrides: { ...tracing, "tracing.sample_rate": 1 } });
    onApi = await on.built.listen("all", { host: "127.0.0.1", port: 0 });
    off = await startTestServer({ overrides: { ...tracing, "tracing.sample_rate": 0 } });
    offApi = await off.built.listen("all", { host: "127.0.0.1", port: 0 });
    if (REDIS_URL) {
      withRedis = await startTestServer({
        overrides: { ...tracing, "tracing.sample_rate": 1, "cache.redis.addrs": [redisAddr(REDIS_URL)], "cache.redis.db": 9, "rate_limit.backend": "redis" },
      });
      withRedisApi = await withRedis.built.listen("all", { host: "127.0.0.1", port: 0 });
    } else {
      console.warn("\n!!! SKIPPED: the Redis spans of test/http/tracing.test.ts — set TALOS_TEST_REDIS_URL=redis://127.0.0.1:6379 to run them (CI does).\n");
    }
  });

  afterAll(async () => {
    await on?.close();
    await off?.close();
    await withRedis?.close();
    await receiver?.close();
  });

  async function post(api: Listening, path: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`http://127.0.0.1:${api.port}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any, requestId: res.headers.get("x-request-id") };
  }

  /** flushes the server's exporter and returns the spans of the trace whose server span has this request id */
  async function traceOf(s: TestServer, requestId: string | null): Promise<ReceivedSpan[]> {
    await s.built.flushTraces();
    const root = receiver.spans.find((x) => x.attributes["talos.request_id"] === requestId);
    expect(root, `server span of request ${requestId}`).toBeDefined();
    return receiver.spans.filter((x) => x.traceId === root!.traceId);
  }

  const one = (spans: ReceivedSpan[], name: string) => {
    const found = spans.filter((s) => s.name === name);
    expect(found.map((s) => s.name), `exactly one ${name} in ${spans.map((s) => s.name).join(", ")}`).toEqual([name]);
    return found[0]!;
  };

  it("a verify's spans: server span, verify pipeline steps and the database read, parented correctly", async () => {
    const issued = await post(onApi, ISSUED, { name: "traced", actor_id: actor("trace") });
    expect(issued.status).toBe(201);
    const secret = issued.body.secret as string;
    const keyId = issued.body.issued_api_key.key_id as string;

    const cold = await post(onApi, VERIFY, { credential: secret });
    expect(cold.body.is_valid).toBe(true);
    const spans = await traceOf(on, cold.requestId);

    const server = one(spans, "POST /v2alpha1/admin/apiKeys:verify");
    expect(server.kind).toBe(2); // SPAN_KIND_SERVER
    expect(server.parentSpanId).toBe("");
    expect(server.attributes).toMatchObject({ "http.request.method": "POST", "http.route": VERIFY, "http.response.status_code": 200 });
    expect(server.resource).toMatchObject({ "service.name": "talos", "deployment.environment.name": "test" });

    const v = one(spans, "talos.verify");
    expect(v.parentSpanId).toBe(server.spanId);
    expect(v.attributes).toMatchObject({ "talos.verification.valid": true, "talos.credential.type": "issued", "talos.key.id": keyId, "talos.cache.outcome": "MISS" });
    for (const step of ["talos.verify.parse", "talos.verify.cache", "talos.verify.read"]) expect(one(spans, step).parentSpanId).toBe(v.spanId);
    const read = one(spans, "talos.verify.read");
    const db = one(spans, "talos.db.getKeys");
    expect(db.parentSpanId).toBe(read.spanId);
    expect(db.attributes).toMatchObject({ "db.operation.name": "getKeys", "db.system.name": "pglite" });

    // warm: served from the cache, no read step and no query
    const warm = await post(onApi, VERIFY, { credential: secret });
    const warmSpans = await traceOf(on, warm.requestId);
    expect(one(warmSpans, "talos.verify.cache").attributes["talos.cache.outcome"]).toBe("HIT");
    expect(warmSpans.some((s) => s.name === "talos.verify.read" || s.name.startsWith("talos.db."))).toBe(false);

    // no credential, secret part or HMAC secret in anything exported
    const secretPart = secret.split("_").at(-2)!;
    for (const body of receiver.bodies) {
      expect(body).not.toContain(secret);
      expect(body).not.toContain(secretPart);
      expect(body).not.toContain(TEST_SECRET);
    }
  });

  it("a write: the issue request's span holds the transaction, its queries and the audit event", async () => {
    // with a request_id the issue reads before it writes: a transaction
    const res = await post(onApi, ISSUED, { name: "written", actor_id: actor("trace"), request_id: randomUUID() });
    expect(res.status).toBe(201);
    const spans = await traceOf(on, res.requestId);
    const server = one(spans, `POST ${ISSUED}`);
    const tx = one(spans, "talos.db.transaction");
    expect(tx.parentSpanId).toBe(server.spanId);
    expect(one(spans, "talos.db.getKeysByRequestIds").parentSpanId).toBe(tx.spanId);
    const insert = one(spans, "talos.db.insertKey");
    expect(insert.parentSpanId).toBe(tx.spanId);
    const events = spans.flatMap((s) => s.events);
    expect(events).toContainEqual({ name: "APIKeyCreated", attributes: { "talos.key.id": res.body.issued_api_key.key_id, "talos.key.kind": "issued" } });
  });

  it("a write without request_id is one statement: the insert's span is the request's child, no transaction", async () => {
    const res = await post(onApi, ISSUED, { name: "written", actor_id: actor("trace") });
    expect(res.status).toBe(201);
    const spans = await traceOf(on, res.requestId);
    const server = one(spans, `POST ${ISSUED}`);
    expect(spans.filter((s) => s.name === "talos.db.transaction")).toEqual([]);
    expect(one(spans, "talos.db.insertKey").parentSpanId).toBe(server.spanId);
    expect(spans.flatMap((s) => s.events)).toContainEqual({ name: "APIKeyCreated", attributes: { "talos.key.id": res.body.issued_api_key.key_id, "talos.key.kind": "issued" } });
  });

  it("continues an incoming sampled traceparent even at sample_rate 0", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parent = "00f067aa0ba902b7";
    const res = await post(offApi, VERIFY, { credential: "ory_ak_unknown" }, { traceparent: `00-${traceId}-${parent}-01` });
    expect(res.status).toBe(200);
    const spans = await traceOf(off, res.requestId);
    const server = one(spans, "POST /v2alpha1/admin/apiKeys:verify");
    expect(server.traceId).toBe(traceId);
    expect(server.parentSpanId).toBe(parent);
    expect(one(spans, "talos.verify").attributes["talos.verification.valid"]).toBe(false);
  });

  it("sends nothing when the sampler says no (sample_rate 0, no or an unsampled traceparent)", async () => {
    const before = receiver.spans.length;
    const plain = await post(offApi, VERIFY, { credential: "ory_ak_unknown" });
    const unsampled = await post(offApi, VERIFY, { credential: "ory_ak_unknown" }, { traceparent: "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00" });
    await off.built.flushTraces();
    const ids = [plain.requestId, unsampled.requestId];
    expect(receiver.spans.slice(before).filter((s) => ids.includes(s.attributes["talos.request_id"] as string))).toEqual([]);
    expect(receiver.spans.slice(before).filter((s) => s.resource["service.name"] === "talos" && s.traceId === "5bf92f3577b34da6a3ce929d0e0e4736")).toEqual([]);
  });

  // defined only with Redis (loudly reported above otherwise), so nothing is skipped
  if (REDIS_URL) {
    it("Redis calls: the shared rate limiter's decision and the invalidation PUBLISH are spans", async () => {
      const s = withRedis!;
      const issued = await post(withRedisApi, ISSUED, { name: "limited", actor_id: actor("trace"), rate_limit_policy: { quota: "5", window: "60s" } });
      expect(issued.status).toBe(201);
      const v = await post(withRedisApi, VERIFY, { credential: issued.body.secret });
      expect(v.body.is_valid).toBe(true);
      const spans = await traceOf(s, v.requestId);
      const limit = one(spans, "talos.verify.rate_limit");
      expect(limit.parentSpanId).toBe(one(spans, "talos.verify").spanId);
      expect(limit.attributes).toMatchObject({ "talos.rate_limit.backend": "redis", "talos.rate_limit.allowed": true });

      const revoke = await post(withRedisApi, `${ISSUED}/${issued.body.issued_api_key.key_id}:revoke`, {});
      expect(revoke.status).toBe(204);
      // the PUBLISH runs after commit and is not awaited by the response: its span may end after the reply
      const revokeSpans = await vi.waitFor(
        async () => {
          const spans = await traceOf(s, revoke.requestId);
          expect(spans.some((x) => x.name === "talos.redis.publish")).toBe(true);
          return spans;
        },
        { timeout: 5000, interval: 50 },
      );
      const publish = one(revokeSpans, "talos.redis.publish");
      expect(publish.attributes).toMatchObject({ "db.system.name": "redis", "db.operation.name": "PUBLISH" });
      expect(publish.parentSpanId).toBe(one(revokeSpans, `POST ${ISSUED}/{key_id}:revoke`).spanId);
    });
  }
});
