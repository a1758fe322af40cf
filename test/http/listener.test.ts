/**
 * The node:http listener itself, driven with raw node:net sockets (not app.request): the header and
 * request timeouts cut slow clients at the configured limit, and the errors node:http answers on
 * its own (oversized head, malformed head, unknown method, timeouts) carry the error envelope,
 * X-Request-ID and the security headers.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "@talos/core";
import { silentLogger } from "@talos/http";
import { createServer, type TalosServer } from "@talos/server";
import { TEST_ISSUER, TEST_SECRET } from "../support/harness.js";
import { UUID_V4, VERIFY } from "../support/http-expect.js";

const HEADERS_MS = 1_000;
const REQUEST_MS = 2_500;
/** "within a second" of the limit, plus slack for a loaded machine */
const SLACK_MS = 1_000;

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: any;
  /** ms from the first byte sent to the connection's end */
  closedAfterMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes `parts` to a fresh connection (a number is a pause in ms), then reads until the server
 * ends the connection; returns the parsed answer.
 */
function exchange(port: number, parts: (string | Buffer | number)[], limitMs = 20_000): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let t0 = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server held the connection for over ${limitMs} ms`));
    }, limitMs);
    socket.on("data", (d) => chunks.push(d));
    socket.on("error", () => {}); // a reset after the answer: what arrived is judged below
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(":");
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = undefined;
      }
      resolve({ status: Number(statusLine.split(" ")[1] ?? 0), headers, body: parsed, closedAfterMs: performance.now() - t0 });
    });
    socket.once("connect", async () => {
      t0 = performance.now();
      for (const p of parts) {
        if (socket.destroyed) return;
        if (typeof p === "number") await sleep(p);
        else socket.write(p);
      }
    });
  });
}

function expectEnvelope(r: Raw, code: number, status: string, reason: string) {
  expect(r.status).toBe(code);
  expect(r.headers["content-type"]).toBe("application/json");
  expect(r.headers["x-request-id"]).toMatch(UUID_V4);
  expect(r.headers["x-content-type-options"]).toBe("nosniff");
  expect(r.headers["strict-transport-security"]).toBe("max-age=31536000; includeSubDomains");
  expect(r.headers.connection).toBe("close");
  expect(r.body.error).toMatchObject({ code, status });
  expect(r.body.error.details[0]).toMatchObject({ reason, domain: "www.ory.com/talos" });
  expect(r.body.error.message).not.toBe("");
}

/** error-level log messages and observed requests of the shared server */
const errorLogs: string[] = [];
const observed: { method: string; status: number; requestId: string }[] = [];

async function start(timeouts?: { headersMs: number; requestMs: number }) {
  const { config } = loadConfig({
    env: {},
    overrides: { "db.dsn": "memory", "secrets.hmac.current": TEST_SECRET, "credentials.issuer": TEST_ISSUER },
  });
  const logger = { ...silentLogger, error: (_obj: object, msg?: string) => void errorLogs.push(msg ?? "") };
  const server = await createServer(config, {
    logger,
    migrate: true,
    observeRequest: ({ method, status, requestId }) => void observed.push({ method, status, requestId }),
  });
  const api = await server.listen("all", { host: "127.0.0.1", port: 0, timeouts });
  return { server, port: api.port };
}

let s: { server: TalosServer; port: number };
beforeAll(async () => {
  s = await start({ headersMs: HEADERS_MS, requestMs: REQUEST_MS });
}, 180_000);
afterAll(() => s?.server.close());

describe("errors node:http answers itself: envelope, X-Request-ID, security headers", () => {
  it("a URL over 16 KiB: 431", async () => {
    const r = await exchange(s.port, [`GET /health/alive?q=${"a".repeat(17 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`]);
    expectEnvelope(r, 431, "RESOURCE_EXHAUSTED", "REQUEST_HEADER_FIELDS_TOO_LARGE");
  });

  it("headers over 16 KiB: 431", async () => {
    const r = await exchange(s.port, [`GET /health/alive HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(17 * 1024)}\r\n\r\n`]);
    expectEnvelope(r, 431, "RESOURCE_EXHAUSTED", "REQUEST_HEADER_FIELDS_TOO_LARGE");
  });

  it("a bare LF or a NUL inside a header: 400", async () => {
    for (const bad of ["X-A: a\nb\r\n", "X-A: a\0b\r\n", "X-\0A: b\r\n"]) {
      const r = await exchange(s.port, [`GET /health/alive HTTP/1.1\r\nHost: x\r\n${bad}\r\n`]);
      expectEnvelope(r, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
    }
  });

  it("an unknown method and a malformed request line: 400", async () => {
    for (const line of ["FOO /health/alive HTTP/1.1", "GET /health/alive HTTP/9.9", "GET  HTTP/1.1"]) {
      const r = await exchange(s.port, [`${line}\r\nHost: x\r\n\r\n`]);
      expectEnvelope(r, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
    }
  });

  it("a request line node cannot parse: the raw X-Request-ID echoed; a HEAD gets the head only", async () => {
    const r = await exchange(s.port, ["GET health/alive HTTP/1.1\r\nHost: x\r\nX-Request-ID: rawline-1\r\n\r\n"]);
    expect(r.status).toBe(400);
    expect(r.headers["x-request-id"]).toBe("rawline-1");
    expect(r.body.error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT" });
    const h = await exchange(s.port, ["HEAD health/alive HTTP/1.1\r\nHost: x\r\n\r\n"]);
    expect(h.status).toBe(400);
    expect(h.headers["x-request-id"]).toMatch(UUID_V4);
    expect(Number(h.headers["content-length"])).toBeGreaterThan(0);
    expect(h.body).toBeUndefined();
  });

  it("a malformed request after a good one on the same connection: the good one answered, then the envelope", async () => {
    const r = await exchange(s.port, ["GET /health/alive HTTP/1.1\r\nHost: x\r\n\r\n", 100, "FOO / HTTP/1.1\r\n\r\n"]);
    // the first answer is the one parsed; the connection then closes after the second (the envelope)
    expect(r.status).toBe(200);
  });

  it("CONNECT (no proxy here): 400 in the envelope, then the connection closes", async () => {
    const r = await exchange(s.port, ["CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n"]);
    expectEnvelope(r, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
    expect(r.body.error.message).toMatch(/CONNECT/);
    const echoed = await exchange(s.port, ["CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-Request-ID: connect-1\r\n\r\n"]);
    expect(echoed.status).toBe(400);
    expect(echoed.headers["x-request-id"]).toBe("connect-1");
    expect(observed).toContainEqual({ method: "CONNECT", status: 400, requestId: "connect-1" });
  });

  it("an Expect other than 100-continue: 417 in the envelope (Hono route, fast route, with a body)", async () => {
    const r = await exchange(s.port, ["GET /health/alive HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n"]);
    expectEnvelope(r, 417, "FAILED_PRECONDITION", "EXPECTATION_FAILED");
    const body = JSON.stringify({ credential: "nope" });
    const v = await exchange(s.port, [
      `POST ${VERIFY} HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nX-Request-ID: expect-1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    ]);
    expect(v.status).toBe(417);
    expect(v.headers["x-request-id"]).toBe("expect-1");
    expect(v.headers["x-frame-options"]).toBe("DENY");
    expect(v.body.error).toMatchObject({ code: 417, status: "FAILED_PRECONDITION" });
    expect(observed).toContainEqual({ method: "POST", status: 417, requestId: "expect-1" });
  });

  it("an HTTP/1.1 request without Host: 400 in the envelope, before any route (HTTP/1.0 needs none)", async () => {
    const r = await exchange(s.port, ["GET /health/alive HTTP/1.1\r\n\r\n"]);
    expectEnvelope(r, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
    expect(r.body.error.message).toMatch(/Host/);
    const body = JSON.stringify({ credential: "nope" });
    const v = await exchange(s.port, [`POST ${VERIFY} HTTP/1.1\r\nX-Request-ID: nohost-1\r\nContent-Length: ${body.length}\r\n\r\n${body}`]);
    expect(v.status).toBe(400);
    expect(v.headers["x-request-id"]).toBe("nohost-1");
    expect(observed).toContainEqual({ method: "POST", status: 400, requestId: "nohost-1" });
    const old = await exchange(s.port, ["GET /health/alive HTTP/1.0\r\n\r\n"]);
    expect(old.status).toBe(200);
  });

  it("a request target that is no URL path (*, a backslash in the path): 400 in the envelope", async () => {
    for (const target of ["*", "/health\\alive", "/v2alpha1/admin\\issuedApiKeys"]) {
      const r = await exchange(s.port, [`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
      expectEnvelope(r, 400, "INVALID_ARGUMENT", "BAD_REQUEST");
      expect(r.body.error.message).toMatch(/request target/);
    }
    const echoed = await exchange(s.port, ["OPTIONS * HTTP/1.1\r\nHost: x\r\nX-Request-ID: star-1\r\nConnection: close\r\n\r\n"]);
    expect(echoed.status).toBe(400);
    expect(echoed.headers["x-request-id"]).toBe("star-1");
  });

  it("the server keeps serving afterwards", async () => {
    const r = await exchange(s.port, ["GET /health/alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: "ok" });
  });
});

describe("slow clients are cut at the configured limits", () => {
  const verifyHead = (length: number, extra = "") => `POST ${VERIFY} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;

  it("partial headers: 408 at the header timeout", async () => {
    const r = await exchange(s.port, ["GET /health/alive HTTP/1.1\r\nHost: x\r\n"]);
    expectEnvelope(r, 408, "DEADLINE_EXCEEDED", "REQUEST_TIMEOUT");
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(r.closedAfterMs).toBeLessThan(HEADERS_MS + SLACK_MS);
  });

  it("a connection that sends nothing is closed at the header timeout", async () => {
    const r = await exchange(s.port, []);
    expect(r.closedAfterMs).toBeLessThan(HEADERS_MS + SLACK_MS);
  });

  it("headers one byte at a time, each well inside the timeout: 408 at the header timeout", async () => {
    const head = "GET /health/alive HTTP/1.1\r\nHost: x\r\nX-Slow: " + "s".repeat(40);
    const parts = [...head].flatMap((c) => [c, 150]);
    const r = await exchange(s.port, parts);
    expectEnvelope(r, 408, "DEADLINE_EXCEEDED", "REQUEST_TIMEOUT");
    expect(r.closedAfterMs).toBeLessThan(HEADERS_MS + SLACK_MS);
  });

  it("an idle body (verify fast route): 408 at the request timeout, the client's X-Request-ID echoed, recorded as 408", async () => {
    const r = await exchange(s.port, [verifyHead(40, "X-Request-ID: idle-body-1\r\n"), '{"credential":']);
    expect(r.status).toBe(408);
    expect(r.headers["x-request-id"]).toBe("idle-body-1");
    expect(r.body.error).toMatchObject({ code: 408, status: "DEADLINE_EXCEEDED" });
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(r.closedAfterMs).toBeLessThan(REQUEST_MS + SLACK_MS);
    await expect.poll(() => observed.find((o) => o.requestId === "idle-body-1")?.status, { timeout: 5_000 }).toBe(408);
  });

  it("a slow body (Hono route, a byte every 200 ms): 408 at the request timeout, recorded as 408, no error logged", async () => {
    const body = JSON.stringify({ name: "slow", actor_id: "slow" });
    const head = `POST /v2alpha1/admin/issuedApiKeys HTTP/1.1\r\nHost: x\r\nX-Request-ID: slow-body-1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const before = errorLogs.length;
    const r = await exchange(s.port, [head, ...[...body].flatMap((c) => [c, 200])]);
    expect(r.status).toBe(408);
    expect(r.headers["x-request-id"]).toBe("slow-body-1");
    expect(r.body.error).toMatchObject({ code: 408, status: "DEADLINE_EXCEEDED" });
    expect(r.closedAfterMs).toBeLessThan(REQUEST_MS + SLACK_MS);
    await expect.poll(() => observed.find((o) => o.requestId === "slow-body-1")?.status, { timeout: 5_000 }).toBe(408);
    expect(errorLogs.slice(before)).toEqual([]);
  });

  it("a client that leaves mid-body: recorded as 499 (client closed), no error logged (Hono and fast route)", async () => {
    const before = errorLogs.length;
    const targets = [
      ["/v2alpha1/admin/issuedApiKeys", "leave-hono-1"],
      [VERIFY, "leave-fast-1"],
    ];
    for (const [path, id] of targets) {
      const socket = connect(s.port, "127.0.0.1");
      socket.on("error", () => {});
      await new Promise((r) => socket.once("connect", r));
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nX-Request-ID: ${id}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`);
      await sleep(200);
      socket.destroy();
      await expect.poll(() => observed.find((o) => o.requestId === id)?.status, { timeout: 5_000 }).toBe(499);
    }
    expect(errorLogs.slice(before)).toEqual([]);
  });

  it("a request that arrives in time is served, and the connection is reusable", async () => {
    const body = JSON.stringify({ credential: "nope" });
    const r = await exchange(s.port, [verifyHead(body.length), 300, body, 300, "GET /health/alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]);
    expect(r.status).toBe(200);
  });
});

describe("the default limits (docs/server.md#processes-surfaces-and-ports: header read 5 s) are enforced within a second", () => {
  it("partial headers: 408 after 5 s, not node's 30 s check interval", async () => {
    // a second listener of the same server, with the default timeouts
    const api = await s.server.listen("all", { host: "127.0.0.1", port: 0 });
    const r = await exchange(api.port, ["POST /v2alpha1/admin/apiKeys:verify HTTP/1.1\r\nHost: x\r\n"]);
    expectEnvelope(r, 408, "DEADLINE_EXCEEDED", "REQUEST_TIMEOUT");
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(5_000 - 50);
    expect(r.closedAfterMs).toBeLessThan(5_000 + SLACK_MS);
  });
});
