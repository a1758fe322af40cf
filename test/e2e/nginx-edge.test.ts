/**
 * The public edge (nginx/public-edge.conf) with a REAL nginx in front of real `talos serve public`
 * and `talos serve admin` processes on PostgreSQL. Only selfRevoke and health get through (the JWKS
 * is an opt-in include: nginx-edge-includes.test.ts); admin paths under every spelling we could
 * think of get nginx's own 404.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { fetchJson, runTalos, startTalos, stopAllTalos, type TalosProcess } from "../support/process.js";
import { findNginx, httpRequest, rawRequest, renderTemplate, startNginx, warnSkipNginx, type NginxProcess, type RawResponse } from "../support/nginx.js";

afterAll(stopAllTalos);

const SECRET = "e2e-edge-hmac-secret-0123456789abcdef-xyz";
const ISSUER = "https://edge.e2e.talos.test";
const UUID = "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f";
const HEX64 = "5c307a51521d853fb92610f351eff76d1aeec225a7cbdc8ec4f7558b09594648";

/** The process's "HTTP request completed" lines, once `done` holds for them (its log is flushed every 500 ms). */
async function pollLogs(p: TalosProcess, done: (lines: Record<string, unknown>[]) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const lines = p.logs().filter((l) => l.msg === "HTTP request completed");
    if (done(lines)) return lines;
    if (Date.now() > until) throw new Error(`log condition not met after ${timeoutMs} ms (${lines.length} request lines)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Admin routes and the tricks an attacker would try; every one must be nginx's own 404. */
export const EDGE_TRICKS: [method: string, target: string][] = [
  // the admin surface as it is
  ["GET", "/v2alpha1/admin/issuedApiKeys"],
  ["POST", "/v2alpha1/admin/issuedApiKeys"],
  ["GET", "/v2alpha1/admin/importedApiKeys"],
  ["POST", "/v2alpha1/admin/importedApiKeys"],
  ["POST", "/v2alpha1/admin/importedApiKeys:batchCreate"],
  ["POST", "/v2alpha1/admin/apiKeys:verify"],
  ["POST", "/v2alpha1/admin/apiKeys:batchVerify"],
  ["POST", "/v2alpha1/admin/apiKeys:derive"],
  ["POST", `/v2alpha1/admin/apiKeys/${UUID}:revoke`],
  ["GET", `/v2alpha1/admin/issuedApiKeys/${UUID}`],
  ["PATCH", `/v2alpha1/admin/issuedApiKeys/${UUID}?update_mask=name`],
  ["POST", `/v2alpha1/admin/issuedApiKeys/${UUID}:rotate`],
  ["DELETE", `/v2alpha1/admin/importedApiKeys/${HEX64}`],
  ["GET", "/v2alpha1/admin/derivedKeys/jwks.json"],
  ["GET", "/gateway/verify"],
  ["GET", "/openapi.json"],
  ["GET", "/version"],
  ["GET", "/metrics"],
  ["GET", "/"],
  // percent-encoding: slashes, letters, the colon of a custom method, double encoding, backslash
  ["GET", "/v2alpha1%2Fadmin%2FissuedApiKeys"],
  ["GET", "/v2alpha1/admin%2FissuedApiKeys"],
  ["GET", "/v2alpha1%2fadmin%2fissuedApiKeys"],
  ["GET", "/v2alpha1/%61dmin/issuedApiKeys"],
  ["POST", "/v2alpha1/admin/apiKeys%3Averify"],
  ["POST", "/v2alpha1/admin/apiKeys%3averify"],
  ["POST", "/v2alpha1/apiKeys%253AselfRevoke"],
  ["GET", "/v2alpha1/admin%5CissuedApiKeys"],
  ["GET", "/v2alpha1/admin\\issuedApiKeys"],
  ["POST", "/v2alpha1/apiKeys%3AselfRevok%65"],
  // doubled slashes and dot segments (nginx merges and resolves them before matching)
  ["GET", "//v2alpha1/admin/issuedApiKeys"],
  ["GET", "/v2alpha1//admin/issuedApiKeys"],
  ["POST", "/v2alpha1//apiKeys:selfRevoke"],
  ["POST", "//v2alpha1/apiKeys:selfRevoke"],
  ["GET", "/v2alpha1/./admin/issuedApiKeys"],
  ["POST", "/v2alpha1/./apiKeys:selfRevoke"],
  ["GET", "/v2alpha1/x/../admin/issuedApiKeys"],
  ["POST", "/v2alpha1/admin/../apiKeys:selfRevoke"],
  ["GET", "/v2alpha1/%2e%2e/v2alpha1/admin/issuedApiKeys"],
  ["GET", "/v2alpha1/%2E/admin/issuedApiKeys"],
  // riding on the allowed paths
  ["POST", "/v2alpha1/apiKeys:selfRevoke/../admin/issuedApiKeys"],
  ["POST", "/v2alpha1/apiKeys:selfRevoke/..%2Fadmin%2FissuedApiKeys"],
  ["POST", "/v2alpha1/apiKeys:selfRevoke%2F..%2Fadmin%2FissuedApiKeys"],
  ["POST", "/v2alpha1/apiKeys%3AselfRevoke/../../v2alpha1/admin/apiKeys:verify"],
  ["POST", "/v2alpha1/apiKeys:selfRevoke;/../admin/issuedApiKeys"],
  ["POST", "/v2alpha1/apiKeys:selfRevoke/..;/admin/issuedApiKeys"],
  ["GET", "/health/alive/../../v2alpha1/admin/issuedApiKeys"],
  ["GET", "/health/ready%2F..%2F..%2Fv2alpha1%2Fadmin%2FissuedApiKeys"],
  ["GET", "/v2alpha1/derivedKeys/jwks.json/../../admin/issuedApiKeys"],
  ["GET", "/v2alpha1/derivedKeys/jwks.json%2F..%2F..%2Fadmin%2FissuedApiKeys"],
  ["GET", "/v2alpha1/admin/issuedApiKeys?next=/v2alpha1/apiKeys:selfRevoke"],
  // case and trailing characters
  ["GET", "/V2ALPHA1/ADMIN/ISSUEDAPIKEYS"],
  ["GET", "/v2alpha1/Admin/issuedApiKeys"],
  ["POST", "/V2alpha1/apiKeys:selfRevoke"],
  ["POST", "/v2alpha1/apikeys:selfrevoke"],
  ["POST", "/v2alpha1/apiKeys:SelfRevoke"],
  ["POST", "/v2alpha1/apiKeys:selfRevoke/"],
  ["POST", "/v2alpha1/apiKeys:selfRevoke."],
  ["POST", "/v2alpha1/apiKeys:selfRevoke%20"],
  ["POST", "/v2alpha1/apiKeys:selfRevoke;x"],
  ["POST", "/v2alpha1/apiKeys:selfRevokeX"],
  ["POST", "/v2alpha1/apiKeys:verify"],
  ["GET", "/health/alive/"],
  ["GET", "/health/alive.json"],
  ["GET", "/health"],
  ["GET", "/v2alpha1/derivedKeys/jwks.json/"],
  // right path, wrong method
  ["GET", "/v2alpha1/apiKeys:selfRevoke"],
  ["PUT", "/v2alpha1/apiKeys:selfRevoke"],
  ["PATCH", "/v2alpha1/apiKeys:selfRevoke"],
  ["DELETE", "/v2alpha1/apiKeys:selfRevoke"],
  ["OPTIONS", "/v2alpha1/apiKeys:selfRevoke"],
  ["TRACE", "/v2alpha1/apiKeys:selfRevoke"],
  ["POST", "/health/alive"],
  ["DELETE", "/v2alpha1/derivedKeys/jwks.json"],
  // nginx's internal error pages are not reachable from outside
  ["GET", "/_talos_edge/404"],
  ["GET", "/_talos_edge/429"],
];

/** Requests nginx refuses to parse: a 4xx from nginx, never forwarded. */
const MALFORMED: [name: string, request: string][] = [
  ["NUL byte", httpRequest("GET", "/v2alpha1/admin/issuedApiKeys%00")],
  ["invalid escape", httpRequest("GET", "/v2alpha1/admin/%zzissuedApiKeys")],
  ["dot segments above the root", httpRequest("GET", "/../v2alpha1/admin/issuedApiKeys")],
  ["encoded dot segments above the root", httpRequest("POST", "/%2e%2e/v2alpha1/admin/issuedApiKeys", { body: "{}" })],
  ["absolute-form target", httpRequest("GET", "http://admin.internal/v2alpha1/admin/issuedApiKeys")],
  ["not HTTP", "GARBAGE\r\n\r\n"],
  [
    "Content-Length with Transfer-Encoding (smuggling)",
    "POST /v2alpha1/apiKeys:selfRevoke HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v2alpha1/admin/issuedApiKeys HTTP/1.1\r\nHost: t\r\n\r\n",
  ],
];

function expectEdgeAnswer(r: RawResponse, status: number, what: string) {
  expect(r.status, what).toBe(status);
  // talos sets X-Request-ID on every response; nginx's own answers have none
  expect(r.headers["x-request-id"], what).toBeUndefined();
  expect(r.headers["content-type"], what).toBe("application/json");
  const body = JSON.parse(r.body) as { error: { code: number; status: string; details: { reason: string; domain: string }[] } };
  expect(body.error.code, what).toBe(status);
  expect(body.error.details[0]!.domain, what).toBe("www.ory.com/talos");
  return body;
}

const nginxBin = findNginx();
if (!TEST_DSN) warnSkip("nginx edge end-to-end test (needs PostgreSQL: admin and public are two processes)");
if (!nginxBin) warnSkipNginx("nginx edge end-to-end test");

describe.skipIf(!TEST_DSN || !nginxBin)("public edge: real nginx in front of talos serve public (PostgreSQL)", () => {
  let drop = async () => {};
  let admin: TalosProcess;
  let pub: TalosProcess;
  let edge: NginxProcess;
  // a second edge in front of a header-echoing upstream: shows what nginx forwards
  let echoEdge: NginxProcess;
  let echo: http.Server;
  const echoed: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    const db = await freshDatabase("talos_edge");
    drop = db.drop;
    const env = { TALOS_DB_DSN: db.dsn, TALOS_SECRETS_HMAC_CURRENT: SECRET, TALOS_CREDENTIALS_ISSUER: ISSUER };
    const migrated = await runTalos(["migrate", "up"], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    [admin, pub] = await Promise.all([
      startTalos({ args: ["serve", "admin"], env }),
      startTalos({ args: ["serve", "public"], env: { ...env, TALOS_SERVE_HTTP_CLIENT_IP_SOURCE: "CLIENT_IP_SOURCE_X_FORWARDED_FOR" } }),
    ]);
    edge = await startNginx((port) =>
      renderTemplate("public-edge.conf", { TALOS_EDGE_LISTEN: `127.0.0.1:${port}`, TALOS_PUBLIC_UPSTREAM: `127.0.0.1:${pub.apiPort}` }),
    );
    echo = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString("utf8")));
      req.on("end", () => {
        echoed.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        res.setHeader("Content-Type", "application/json");
        res.end("{}");
      });
    });
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    const echoPort = (echo.address() as AddressInfo).port;
    echoEdge = await startNginx((port) =>
      renderTemplate("public-edge.conf", { TALOS_EDGE_LISTEN: `127.0.0.1:${port}`, TALOS_PUBLIC_UPSTREAM: `127.0.0.1:${echoPort}` }),
    );
  }, 180_000);

  afterAll(async () => {
    await edge?.stop();
    await echoEdge?.stop();
    await new Promise((resolve) => (echo ? echo.close(resolve) : resolve(undefined)));
    if (admin) expect(await admin.stop()).toBe(0);
    if (pub) expect(await pub.stop()).toBe(0);
    await drop();
  }, 120_000);

  /** http_requests_total summed over all labels on the public process: what reached it. */
  async function publicRequestCount(): Promise<number> {
    const text = await (await fetch(`${pub.metricsUrl}/metrics`)).text();
    return text
      .split("\n")
      .filter((l) => l.startsWith("http_requests_total{"))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  }

  const issue = async (actor: string) => {
    const r = await fetchJson(`${admin.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { name: "edge", actor_id: actor } });
    expect(r.status, r.text).toBe(201);
    return { secret: r.body.secret as string, keyId: r.body.issued_api_key.key_id as string };
  };
  const verifyOnAdmin = async (secret: string) =>
    (await fetchJson(`${admin.apiUrl}/v2alpha1/admin/apiKeys:verify`, { body: { credential: secret }, headers: { "Cache-Control": "no-cache" } })).body;

  it("health probes pass through to the public process", async () => {
    for (const p of ["/health/alive", "/health/ready"]) {
      const r = await fetchJson(`${edge.url}${p}`);
      expect(r.status, p).toBe(200);
      // no JWT signing key in this configuration: ready, with a detail naming the setting
      const detail = p === "/health/ready" ? { detail: expect.stringContaining("credentials.derived_tokens.jwt.signing_keys.urls") } : {};
      expect(r.body).toEqual({ status: "ok", ...detail });
      expect(r.headers.get("x-request-id"), "answered by talos").toBeTruthy();
      const head = await fetch(`${edge.url}${p}`, { method: "HEAD" });
      expect(head.status).toBe(200);
    }
  });

  it("the JWKS is an opt-in include: the default edge answers it with its own 404 (nginx-edge-includes.test.ts lets it through)", async () => {
    const before = await publicRequestCount();
    const r = await rawRequest(edge.port, httpRequest("GET", "/v2alpha1/derivedKeys/jwks.json"));
    expectEdgeAnswer(r, 404, "JWKS without its include");
    expect(await publicRequestCount()).toBe(before);
  });

  it("selfRevoke works through nginx, and the key then fails verification on the admin process", async () => {
    const k = await issue("edge-self-revoke");
    expect((await verifyOnAdmin(k.secret)).is_valid).toBe(true);
    const r = await fetchJson(`${edge.url}/v2alpha1/apiKeys:selfRevoke`, { body: { credential: k.secret, reason: "REVOCATION_REASON_KEY_COMPROMISE" } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({});
    expect(r.headers.get("x-request-id")).toBeTruthy();
    const v = await verifyOnAdmin(k.secret);
    expect(v.is_valid).toBe(false);
    expect(v.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    // talos' own answers pass through unchanged (404 api_key_not_found is talos', not the edge's)
    const unknown = await fetchJson(`${edge.url}/v2alpha1/apiKeys:selfRevoke`, { body: { credential: "sk_unknown_edge_key" } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("x-request-id")).toBeTruthy();
    expect(unknown.body.error.details[0].reason).toBe("API_KEY_NOT_FOUND");
  });

  it("the %3A spelling of :selfRevoke is allowed too, consistently (docs/wire.md#paths-and-query-strings)", async () => {
    const k = await issue("edge-self-revoke-encoded");
    const r = await rawRequest(edge.port, httpRequest("POST", "/v2alpha1/apiKeys%3AselfRevoke", { body: JSON.stringify({ credential: k.secret }) }));
    expect(r.status, r.body).toBe(200);
    expect((await verifyOnAdmin(k.secret)).error_code).toBe("VERIFICATION_ERROR_REVOKED");
  });

  it(`${EDGE_TRICKS.length} admin paths and tricks all get nginx's own 404; none reaches talos`, async () => {
    expect(EDGE_TRICKS.length).toBeGreaterThanOrEqual(40);
    const before = await publicRequestCount();
    const keysBefore = (await fetchJson(`${admin.apiUrl}/v2alpha1/admin/issuedApiKeys?filter=actor_id%3D%22edge-trick%22`)).body.issued_api_keys.length;
    for (const [method, target] of EDGE_TRICKS) {
      const body = ["POST", "PATCH", "PUT"].includes(method) ? JSON.stringify({ name: "edge", actor_id: "edge-trick", credential: "x" }) : undefined;
      const r = await rawRequest(edge.port, httpRequest(method, target, { body }));
      const env = expectEdgeAnswer(r, 404, `${method} ${target}`);
      expect(env.error.status).toBe("NOT_FOUND");
      expect(env.error.details[0]!.reason).toBe("NOT_FOUND");
    }
    expect(await publicRequestCount(), "requests that reached the public process").toBe(before);
    const keysAfter = (await fetchJson(`${admin.apiUrl}/v2alpha1/admin/issuedApiKeys?filter=actor_id%3D%22edge-trick%22`)).body.issued_api_keys.length;
    expect(keysAfter).toBe(keysBefore);
  });

  it("requests nginx cannot parse are refused by nginx (4xx envelope), never forwarded", async () => {
    const before = await publicRequestCount();
    for (const [name, req] of MALFORMED) {
      const r = await rawRequest(edge.port, req);
      expect([400, 404], `${name}: ${r.status}`).toContain(r.status);
      expectEdgeAnswer(r, r.status, name);
    }
    expect(await publicRequestCount()).toBe(before);
  });

  it("bodies over 16 KiB get nginx's 413 envelope", async () => {
    const before = await publicRequestCount();
    const big = JSON.stringify({ credential: "x".repeat(20 * 1024) });
    const r = await rawRequest(edge.port, httpRequest("POST", "/v2alpha1/apiKeys:selfRevoke", { body: big }));
    const env = expectEdgeAnswer(r, 413, "413");
    expect(env.error.status).toBe("RESOURCE_EXHAUSTED");
    expect(await publicRequestCount()).toBe(before);
  });

  it("the public process never logged an admin path", async () => {
    // this test's own traffic: allowed paths and every admin trick, through the edge
    for (const p of ["/health/alive", "/health/ready"]) await rawRequest(edge.port, httpRequest("GET", p));
    for (const [method, target] of EDGE_TRICKS) {
      const body = ["POST", "PATCH", "PUT"].includes(method) ? "{}" : undefined;
      expect((await rawRequest(edge.port, httpRequest(method, target, { body }))).status, `${method} ${target}`).toBe(404);
    }
    // log lines are written in order, so once this last request's line is out, every earlier one is
    const sentinel = randomUUID();
    expect((await fetch(`${pub.apiUrl}/health/alive`, { headers: { "X-Request-ID": sentinel } })).status).toBe(200);
    const requestLogs = await pollLogs(pub, (ls) => ls.some((l) => l.request_id === sentinel));
    expect(requestLogs.some((l) => l.path === "/health/ready")).toBe(true);
    for (const l of requestLogs) {
      expect(["/v2alpha1/apiKeys:selfRevoke", "/health/alive", "/health/ready"]).toContain(l.path);
    }
  });

  it("forwards a canonical URI and the client address nginx saw, replacing spoofed client-IP headers", async () => {
    echoed.length = 0;
    const spoof = {
      "X-Forwarded-For": "6.6.6.6, 10.0.0.1",
      "X-Real-IP": "7.7.7.7",
      "CF-Connecting-IP": "8.8.8.8",
      "True-Client-IP": "9.9.9.9",
      Forwarded: "for=5.5.5.5",
    };
    const r = await rawRequest(echoEdge.port, httpRequest("POST", "/v2alpha1/apiKeys%3AselfRevoke?x=1", { body: '{"credential":"c"}', headers: spoof }));
    expect(r.status).toBe(200);
    const health = await rawRequest(echoEdge.port, httpRequest("GET", "/health/ready", { headers: spoof }));
    expect(health.status).toBe(200);
    expect(echoed).toHaveLength(2);
    const [sr, hr] = echoed as [(typeof echoed)[0], (typeof echoed)[0]];
    expect(sr.method).toBe("POST");
    expect(sr.url).toBe("/v2alpha1/apiKeys:selfRevoke?x=1");
    expect(sr.body).toBe('{"credential":"c"}');
    expect(hr.url).toBe("/health/ready");
    for (const seen of [sr, hr]) {
      expect(seen.headers["x-forwarded-for"]).toBe("127.0.0.1");
      expect(seen.headers["x-real-ip"]).toBe("127.0.0.1");
      expect(seen.headers["cf-connecting-ip"]).toBeUndefined();
      expect(seen.headers["true-client-ip"]).toBeUndefined();
      expect(seen.headers["forwarded"]).toBeUndefined();
    }
  });

  it("rate-limits selfRevoke per client address (429 envelope with Retry-After)", async () => {
    const statuses: number[] = [];
    let limited: RawResponse | undefined;
    for (let i = 0; i < 40; i++) {
      const r = await rawRequest(echoEdge.port, httpRequest("POST", "/v2alpha1/apiKeys:selfRevoke", { body: "{}" }));
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    expect(statuses.filter((s) => s === 429).length, statuses.join(" ")).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const env = expectEdgeAnswer(limited!, 429, "429");
    expect(env.error.status).toBe("RESOURCE_EXHAUSTED");
    expect(limited!.headers["retry-after"]).toBe("1");
    // health is not rate limited
    expect((await rawRequest(echoEdge.port, httpRequest("GET", "/health/alive"))).status).toBe(200);
  });
});
