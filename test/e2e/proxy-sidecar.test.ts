/**
 * `talos proxy` in sidecar mode (docs/proxy.md): real processes — a central server (PostgreSQL when
 * TALOS_TEST_DSN is set, else embedded), proxies as children, a small node:http upstream.
 * Invalidation: revocations reach every proxy's cache through GET cacheInvalidations:stream, also
 * after the stream was cut; the propagation over 100 revocations is printed.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueAt, pollUntil, summarize } from "../support/cluster.js";
import { E2E_TIMEOUT_MS, fetchJson, stopAllTalos, type TalosProcess } from "../support/process.js";
import { metric, raw, startCentral, startProxyProcess, startRelay, verifyVia, type Central } from "../support/proxy.js";

const REVOKE = (base: string, id: string) => fetchJson(`${base}/v2alpha1/admin/issuedApiKeys/${id}:revoke`, { body: {} });

describe("talos proxy: sidecar", { timeout: E2E_TIMEOUT_MS * 3 }, () => {
  let central: Central;
  let a: TalosProcess; // through a relay whose connections the test cuts
  let b: TalosProcess;
  let hosts: TalosProcess; // allowed hosts
  let echoProxy: TalosProcess; // in front of the echo app
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let echo: Server;
  const seen: { url: string; headers: Record<string, unknown> }[] = [];
  let verifyCalls = 0;
  const url = (p: TalosProcess) => p.apiUrl;

  beforeAll(async () => {
    echo = createServer((req, res) => {
      if (req.url === "/v2alpha1/admin/cacheInvalidations:stream") {
        seen.push({ url: req.url, headers: req.headers });
        res.writeHead(200, { "content-type": "text/event-stream" });
        return void res.write("event: ready\ndata: {}\n\n");
      }
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ url: req.url ?? "", headers: req.headers });
        if (req.url === "/v2alpha1/admin/apiKeys:verify") {
          verifyCalls++;
          const { credential } = JSON.parse(Buffer.concat(chunks).toString() || "{}");
          if (credential === "boom") return void res.writeHead(500, { "content-type": "application/json" }).end('{"error":{"code":500}}');
          return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ is_valid: true, key_id: "echo-key", expire_time: null }));
        }
        res.writeHead(200, { "content-type": "application/json", "x-upstream": "echo" }).end(JSON.stringify({ url: req.url, method: req.method }));
      });
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
    const echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;

    central = await startCentral({ TALOS_CACHE_TTL: "10m" });
    relay = await startRelay(central.server.apiPort);
    [a, b, hosts, echoProxy] = await Promise.all([
      startProxyProcess(["--upstream", `http://127.0.0.1:${relay.port}`, "--cache-ttl", "10m"]),
      startProxyProcess(["--upstream", central.server.apiUrl], { TALOS_PROXY_CACHE_TTL: "10m" }),
      startProxyProcess(["--upstream", central.server.apiUrl, "--allowed-hosts", "tenant-a.test,tenant-b.test"]),
      startProxyProcess(["--upstream", echoUrl], { TALOS_PROXY_TALOS_AUTHORIZATION: "Bearer proxy-own" }),
    ]);
  });

  afterAll(async () => {
    await stopAllTalos();
    await relay?.close();
    echo?.closeAllConnections();
    echo?.close();
    await central?.drop();
  });

  it("answers MISS then HIT, with the server's body", async () => {
    const k = await issueAt(central.server.apiUrl, { scopes: ["read"] });
    const first = await verifyVia(url(b), k.secret);
    expect(first.status).toBe(200);
    expect(first.headers["ory-talos-cache"]).toBe("MISS");
    expect(first.json).toMatchObject({ is_valid: true, key_id: k.keyId, scopes: ["read"] });
    const second = await verifyVia(url(b), k.secret);
    expect(second.headers["ory-talos-cache"]).toBe("HIT");
    expect(second.json).toEqual(first.json);
    // the server's headers are replayed (content type, security headers), per-response ones are not
    for (const h of ["content-type", "content-security-policy", "x-content-type-options"]) expect(second.headers[h], h).toBe(first.headers[h]);
    expect(first.headers["content-security-policy"]).toBeDefined();
  });

  it("never caches invalid keys or upstream errors", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await verifyVia(url(b), "ory_ak_definitely_not_a_key");
      expect(r.json.is_valid).toBe(false);
      expect(r.headers["ory-talos-cache"]).toBe("MISS");
    }
    const before = verifyCalls;
    for (let i = 0; i < 2; i++) {
      const r = await verifyVia(url(echoProxy), "boom");
      expect(r.status).toBe(500);
      expect(r.headers["ory-talos-cache"]).toBe("MISS");
    }
    expect(verifyCalls - before).toBe(2);
    await verifyVia(url(echoProxy), "fine");
    expect((await verifyVia(url(echoProxy), "fine")).headers["ory-talos-cache"]).toBe("HIT");
  });

  it("Cache-Control no-cache / no-store and Pragma no-cache bypass the cache and do not write back", async () => {
    const k = await issueAt(central.server.apiUrl);
    for (const h of [{ "cache-control": "no-cache" }, { "cache-control": "no-store" }, { pragma: "no-cache" }] as Record<string, string>[]) {
      expect((await verifyVia(url(b), k.secret, h)).headers["ory-talos-cache"]).toBe("MISS");
    }
    expect((await verifyVia(url(b), k.secret)).headers["ory-talos-cache"]).toBe("MISS");
    expect((await verifyVia(url(b), k.secret)).headers["ory-talos-cache"]).toBe("HIT");
    expect((await verifyVia(url(b), k.secret, { "cache-control": "no-cache" })).headers["ory-talos-cache"]).toBe("MISS");
  });

  it("answers 413 for a verify body over 1 MB", async () => {
    const r = await raw(`${url(b)}/v2alpha1/admin/apiKeys:verify`, { body: JSON.stringify({ credential: "x".repeat(1024 * 1024 + 10) }), headers: { "content-type": "application/json" } });
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe(413);
    // without Content-Length (chunked): the 413 still arrives
    const chunked = await raw(`${url(b)}/v2alpha1/admin/apiKeys:verify`, {
      body: JSON.stringify({ credential: "y".repeat(2 * 1024 * 1024) }),
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    });
    expect(chunked.status).toBe(413);
  });

  it("serves only allowed hosts (health exempt) and keeps tenants apart by host", async () => {
    const k = await issueAt(central.server.apiUrl);
    expect((await verifyVia(url(hosts), k.secret, { host: "evil.test" })).status).toBe(403);
    expect((await raw(`${url(hosts)}/health/alive`, { headers: { host: "evil.test" } })).status).toBe(200);
    expect((await verifyVia(url(hosts), k.secret, { host: "tenant-a.test" })).headers["ory-talos-cache"]).toBe("MISS");
    expect((await verifyVia(url(hosts), k.secret, { host: "tenant-a.test" })).headers["ory-talos-cache"]).toBe("HIT");
    expect((await verifyVia(url(hosts), k.secret, { host: "tenant-b.test" })).headers["ory-talos-cache"]).toBe("MISS");
  });

  it("streams everything else through unchanged, Authorization included", async () => {
    const r = await raw(`${url(echoProxy)}/v2alpha1/admin/issuedApiKeys?page_size=2`, { headers: { authorization: "Bearer admin-token", "x-custom": "1" } });
    expect(r.status).toBe(200);
    expect(r.headers["x-upstream"]).toBe("echo");
    const last = seen.at(-1)!;
    expect(last.url).toBe("/v2alpha1/admin/issuedApiKeys?page_size=2");
    expect(last.headers["authorization"]).toBe("Bearer admin-token");
    expect(last.headers["x-custom"]).toBe("1");
    // and against the real server: an admin call through the proxy
    const k = await issueAt(url(b));
    expect((await fetchJson(`${url(b)}/v2alpha1/admin/issuedApiKeys/${k.keyId}`)).body.key_id).toBe(k.keyId);
  });

  it("subscribes to the stream with its own proxy.talos_authorization", () => {
    const sub = seen.find((s) => s.url === "/v2alpha1/admin/cacheInvalidations:stream");
    expect(sub?.headers["authorization"]).toBe("Bearer proxy-own");
    expect(sub?.headers["accept"]).toBe("text/event-stream");
  });

  it("has probes and metrics", async () => {
    expect((await raw(`${b.metricsUrl}/health/alive`)).status).toBe(200);
    expect((await raw(`${b.metricsUrl}/health/ready`)).status).toBe(200);
    expect((await raw(`${url(b)}/health/ready`)).status).toBe(200);
    const m = (await raw(`${b.metricsUrl}/metrics`)).text;
    expect(metric(m, "talos_proxy_cache_hits_total")).toBeGreaterThan(0);
    expect(metric(m, "talos_proxy_cache_misses_total")).toBeGreaterThan(0);
    expect(metric(m, "talos_proxy_upstream_requests_total", '{status="200"}')).toBeGreaterThan(0);
    expect(m).toContain("talos_proxy_upstream_latency_seconds_bucket");
    expect(m).toContain('talos_proxy_request_duration_seconds_bucket{le="0.005",cached="true"}');
    expect(metric(m, "talos_proxy_invalidations_received_total", '{type="ready"}')).toBeGreaterThan(0);
    // the echo proxy's upstream has no /health/alive answer of 200? it answers 200 for any path
    expect((await raw(`${echoProxy.metricsUrl}/health/ready`)).status).toBe(200);
  });

  it("a revoke through the central server reaches both proxies' caches within 1 s", async () => {
    const k = await issueAt(central.server.apiUrl);
    for (const p of [a, b]) {
      await verifyVia(url(p), k.secret);
      expect((await verifyVia(url(p), k.secret)).headers["ory-talos-cache"]).toBe("HIT");
    }
    const since = performance.now();
    expect((await REVOKE(central.server.apiUrl, k.keyId)).status).toBeLessThan(300);
    for (const p of [a, b]) {
      const ms = await pollUntil(async () => (await verifyVia(url(p), k.secret)).json.error_code === "VERIFICATION_ERROR_REVOKED", 1_000, 5, since);
      expect(ms, `proxy ${p.apiUrl}`).not.toBeNull();
    }
  });

  it("an update, a rotation and an imported key's deletion evict too", async () => {
    const central_ = central.server.apiUrl;
    const warmed = async (secret: string) => {
      await verifyVia(url(b), secret);
      expect((await verifyVia(url(b), secret)).headers["ory-talos-cache"]).toBe("HIT");
    };
    const until = async (secret: string, done: (j: any) => boolean) =>
      expect(await pollUntil(async () => done((await verifyVia(url(b), secret)).json), 1_000, 5)).not.toBeNull();

    const u = await issueAt(central_, { scopes: ["old"] });
    await warmed(u.secret);
    await fetchJson(`${central_}/v2alpha1/admin/issuedApiKeys/${u.keyId}?update_mask=scopes`, { method: "PATCH", body: { scopes: ["new"] } });
    await until(u.secret, (j) => j.is_valid && j.scopes[0] === "new");

    const r = await issueAt(central_);
    await warmed(r.secret);
    expect((await fetchJson(`${central_}/v2alpha1/admin/issuedApiKeys/${r.keyId}:rotate`, { body: {} })).status).toBe(201);
    await until(r.secret, (j) => j.is_valid === false);

    const raw_key = `sk_proxy_${Date.now()}_${Math.random().toString(36).slice(2)}`;
    const imp = await fetchJson(`${central_}/v2alpha1/admin/importedApiKeys`, { body: { raw_key, name: "imp", actor_id: "u" } });
    expect(imp.status).toBe(201);
    await warmed(raw_key);
    expect((await fetchJson(`${central_}/v2alpha1/admin/importedApiKeys/${imp.body.key_id}`, { method: "DELETE" })).status).toBe(204);
    await until(raw_key, (j) => j.is_valid === false);
  });

  it("after the invalidation stream is cut and restored, the proxy has cleared its cache and sees revocations again", async () => {
    const k1 = await issueAt(central.server.apiUrl);
    const k2 = await issueAt(central.server.apiUrl);
    for (const k of [k1, k2]) {
      await verifyVia(url(a), k.secret);
      expect((await verifyVia(url(a), k.secret)).headers["ory-talos-cache"]).toBe("HIT");
    }
    const readyBefore = metric((await raw(`${a.metricsUrl}/metrics`)).text, "talos_proxy_invalidations_received_total", '{type="ready"}');
    const cut = relay.cut(500);
    // revoked while the proxy cannot hear about it
    await REVOKE(central.server.apiUrl, k1.keyId);
    await cut;
    const back = await pollUntil(
      async () => metric((await raw(`${a.metricsUrl}/metrics`)).text, "talos_proxy_invalidations_received_total", '{type="ready"}') > readyBefore,
      15_000,
      50,
    );
    expect(back, "the stream reconnected").not.toBeNull();
    const r1 = await verifyVia(url(a), k1.secret);
    expect(r1.json.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    expect((await verifyVia(url(a), k2.secret)).headers["ory-talos-cache"]).toBe("MISS"); // cleared
    // and live again
    expect((await verifyVia(url(a), k2.secret)).headers["ory-talos-cache"]).toBe("HIT");
    const since = performance.now();
    await REVOKE(central.server.apiUrl, k2.keyId);
    const ms = await pollUntil(async () => (await verifyVia(url(a), k2.secret)).json.error_code === "VERIFICATION_ERROR_REVOKED", 1_000, 5, since);
    expect(ms).not.toBeNull();
  });

  it("propagation over 100 revocations (printed: p50, p99)", async () => {
    const delays: number[] = [];
    for (let i = 0; i < 100; i++) {
      const k = await issueAt(central.server.apiUrl);
      await verifyVia(url(b), k.secret);
      const since = performance.now();
      await REVOKE(central.server.apiUrl, k.keyId);
      // measured from the revoke request's start: includes the revoke's own round trip
      const ms = await pollUntil(async () => (await verifyVia(url(b), k.secret)).json.error_code === "VERIFICATION_ERROR_REVOKED", 1_000, 2, since);
      expect(ms).not.toBeNull();
      delays.push(ms!);
    }
    const sorted = [...delays].sort((x, y) => x - y);
    const s = summarize(delays);
    console.log(`[proxy] revocation propagation to a sidecar over ${s.n} revocations: p50 ${sorted[49]!.toFixed(1)} ms, p99 ${sorted[98]!.toFixed(1)} ms, max ${s.max} ms`);
  });
});
