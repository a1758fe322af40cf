/**
 * nginx/gateway-auth-request.conf with a REAL nginx: a team's API (here a tiny node server that
 * echoes what it received) protected by `auth_request` against a real `talos serve admin`
 * process's GET /gateway/verify (docs/verification.md#gateway-verify).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchJson, startTalos, stopAllTalos, type TalosProcess } from "../support/process.js";
import { findNginx, renderTemplate, startNginx, warnSkipNginx, type NginxProcess } from "../support/nginx.js";

afterAll(stopAllTalos);

const nginxBin = findNginx();
if (!nginxBin) warnSkipNginx("nginx auth_request gateway end-to-end test");

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe.skipIf(!nginxBin)("gateway: nginx auth_request against talos serve admin /gateway/verify", () => {
  let admin: TalosProcess;
  let gateway: NginxProcess;
  let team: http.Server;
  const seen: Seen[] = [];

  beforeAll(async () => {
    admin = await startTalos({
      args: ["serve", "admin"],
      env: {
        TALOS_DB_DSN: "memory",
        TALOS_SECRETS_HMAC_CURRENT: "e2e-gateway-hmac-secret-0123456789abcdef",
        TALOS_CREDENTIALS_ISSUER: "https://gateway.e2e.talos.test",
        // the gateway sends the client address it saw; per-key IP allowlists must use it
        TALOS_SERVE_HTTP_CLIENT_IP_SOURCE: "CLIENT_IP_SOURCE_X_FORWARDED_FOR",
      },
    });
    team = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString("utf8")));
      req.on("end", () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.setHeader("Content-Type", "application/json");
        res.end(JSON.stringify({ team: "orders", url: req.url }));
      });
    });
    await new Promise<void>((resolve) => team.listen(0, "127.0.0.1", resolve));
    const teamPort = (team.address() as AddressInfo).port;
    gateway = await startNginx((port) =>
      renderTemplate("gateway-auth-request.conf", {
        TALOS_GATEWAY_LISTEN: `127.0.0.1:${port}`,
        TALOS_ADMIN_UPSTREAM: `127.0.0.1:${admin.apiPort}`,
        TEAM_API_UPSTREAM: `127.0.0.1:${teamPort}`,
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await new Promise((resolve) => (team ? team.close(resolve) : resolve(undefined)));
    if (admin) expect(await admin.stop()).toBe(0);
  }, 60_000);

  const issue = async (body: Record<string, unknown>) => {
    const r = await fetchJson(`${admin.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { name: "gw", ...body } });
    expect(r.status, r.text).toBe(201);
    return { secret: r.body.secret as string, keyId: r.body.issued_api_key.key_id as string };
  };
  const cacheHits = async () => {
    const text = await (await fetch(`${admin.metricsUrl}/metrics`)).text();
    return Number(/^talos_verification_cache_total\{result="hit"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };
  const call = (path: string, headers: Record<string, string> = {}, init: { method?: string; body?: string } = {}) =>
    fetchJson(`${gateway.url}${path}`, { method: init.method ?? "GET", headers, body: init.body });

  it("no key: 401 with WWW-Authenticate: Bearer, and the team API is never called", async () => {
    seen.length = 0;
    const cases: Record<string, string>[] = [{}, { Authorization: "Basic dXNlcjpwYXNz" }, { Authorization: "Bearer not-a-key" }, { "X-API-Key": "nope" }];
    for (const headers of cases) {
      const r = await call("/orders/42", headers);
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe("Bearer");
      expect(r.body.error).toMatchObject({ code: 401, status: "UNAUTHENTICATED" });
    }
    expect(seen).toHaveLength(0);
  });

  it("a valid key: 200, and the team API sees the key's actor id, key id and scopes (never the key)", async () => {
    const k = await issue({ actor_id: "team-orders-client", scopes: ["orders:read", "orders:write"] });
    seen.length = 0;
    const r = await call("/orders/42?expand=items", {
      Authorization: `Bearer ${k.secret}`,
      // a client cannot pose as another actor: the gateway overwrites these
      "X-Talos-Actor-Id": "someone-else",
      "X-Talos-Key-Id": "forged",
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ team: "orders", url: "/orders/42?expand=items" });
    expect(seen).toHaveLength(1);
    const h = seen[0]!.headers;
    expect(h["x-talos-actor-id"]).toBe("team-orders-client");
    expect(h["x-talos-key-id"]).toBe(k.keyId);
    expect(h["x-talos-scopes"]).toBe("orders:read,orders:write");
    expect(h["authorization"]).toBeUndefined();
    expect(h["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(seen[0])).not.toContain(k.secret);
  });

  it("clients cannot make the verifier skip its cache (Cache-Control / Pragma are not forwarded to it)", async () => {
    const k = await issue({ actor_id: "team-orders-cache" });
    const noCache = { Authorization: `Bearer ${k.secret}`, "Cache-Control": "no-cache, no-store", Pragma: "no-cache" };
    const hitsBefore = await cacheHits();
    for (let i = 0; i < 3; i++) expect((await call("/orders/1", noCache)).status).toBe(200);
    // first request: MISS (then cached); the next two: HIT despite the client's headers
    expect((await cacheHits()) - hitsBefore).toBe(2);
  });

  it("X-API-Key works too, and a request body reaches the team API (not the verifier)", async () => {
    const k = await issue({ actor_id: "team-orders-xapikey" });
    seen.length = 0;
    const r = await call("/orders", { "X-API-Key": k.secret, "Content-Type": "application/json" }, { method: "POST", body: '{"item":"book"}' });
    expect(r.status, r.text).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "POST", url: "/orders", body: '{"item":"book"}' });
    expect(seen[0]!.headers["x-talos-actor-id"]).toBe("team-orders-xapikey");
  });

  it("a revoked key: 401", async () => {
    const k = await issue({ actor_id: "team-orders-revoked" });
    expect((await call("/orders/1", { Authorization: `Bearer ${k.secret}` })).status).toBe(200);
    const rv = await fetchJson(`${admin.apiUrl}/v2alpha1/admin/issuedApiKeys/${k.keyId}:revoke`, { body: {} });
    expect(rv.status).toBe(204);
    seen.length = 0;
    const r = await call("/orders/1", { Authorization: `Bearer ${k.secret}` });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe("Bearer");
    expect(seen).toHaveLength(0);
  });

  it("a rate-limited key: 429 with Retry-After, RateLimit and RateLimit-Policy", async () => {
    const k = await issue({ actor_id: "team-orders-limited", rate_limit_policy: { quota: 2, window: "60s" } });
    const auth = { Authorization: `Bearer ${k.secret}` };
    expect((await call("/orders/1", auth)).status).toBe(200);
    expect((await call("/orders/1", auth)).status).toBe(200);
    seen.length = 0;
    const r = await call("/orders/1", auth);
    expect(r.status, r.text).toBe(429);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(r.headers.get("ratelimit")).toMatch(/^"default";r=0;t=\d+$/);
    expect(r.headers.get("ratelimit-policy")).toBe('"default";q=2;w=60');
    expect(r.body.error).toMatchObject({ code: 429, status: "RESOURCE_EXHAUSTED" });
    expect(seen).toHaveLength(0);
  });

  it("IP allowlists apply to the address nginx saw; a spoofed X-Forwarded-For changes nothing", async () => {
    const tenNet = await issue({ actor_id: "team-orders-10net", ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] } });
    const loopback = await issue({ actor_id: "team-orders-loopback", ip_restriction: { allowed_cidrs: ["127.0.0.1/32"] } });
    const spoof = { "X-Forwarded-For": "10.1.2.3", "X-Real-IP": "10.1.2.3", "True-Client-IP": "10.1.2.3" };
    const denied = await call("/orders/1", { Authorization: `Bearer ${tenNet.secret}`, ...spoof });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 403, status: "PERMISSION_DENIED" });
    const allowed = await call("/orders/1", { Authorization: `Bearer ${loopback.secret}`, ...spoof });
    expect(allowed.status).toBe(200);
  });
});
