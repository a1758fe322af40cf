import { randomUUID } from "node:crypto";
import { request as httpRequest, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreUnavailableError, TalosError, loadConfig, mintIssuedKey } from "@talos/core";
import { silentLogger, type Logger } from "@talos/http";
import { createServer, type Mode, type TalosServer } from "@talos/server";
import { TEST_ISSUER, TEST_SECRET, type TestResponse } from "../support/harness.js";
import { ISSUED, UUID_V4, VERIFY, manualClock } from "../support/http-expect.js";

/**
 * Differential test of the verify fast route (packages/http/src/fast-route.ts): every request goes
 * to a real node:http server built with listenerFor("admin") AND to the Hono app through
 * app.request (the reference). Both must answer alike: status, JSON body, and headers.
 *
 * The clock is a frozen manual clock, so expire times, rate-limit reset times and RateLimit `t=`
 * values are identical whichever path computes them and however long the requests take.
 */

const IMPORTED = "/v2alpha1/admin/importedApiKeys";
const COMPARED = ["content-type", "ory-talos-cache", "cache-control", "ratelimit", "ratelimit-policy", "retry-after",
  "strict-transport-security", "x-frame-options", "x-content-type-options", "referrer-policy", "content-security-policy"];
/** transport headers one side writes and the other may not (app.request has no socket) */
const TRANSPORT = new Set(["date", "connection", "keep-alive", "content-length", "transfer-encoding"]);

type Via = "fast" | "hono";
interface Srv { built: TalosServer; app: ReturnType<TalosServer["app"]>; server: Server; base: string; port: number; via: Map<string, Via>; observed: { fail: boolean } }

const clock = manualClock();

async function start(overrides: Record<string, unknown> = {}, mode: Mode = "admin"): Promise<Srv> {
  const base = { "db.dsn": "memory", "secrets.hmac.current": TEST_SECRET, "credentials.issuer": TEST_ISSUER, "last_used.flush_interval": "100ms" };
  const { config } = loadConfig({ env: {}, overrides: { ...base, ...overrides } });
  // Which path answered: both report each request once through deps.observeRequest (this
  // observer is called from it) with identical arguments; only the caller differs: the fast
  // path calls it from src/fast-route.ts (not this test file!), Hono from its middleware in app.ts.
  // The stack is thus a sound fingerprint; the fall-through tests are its negative control.
  const via = new Map<string, Via>();
  const observed = { fail: false };
  const built = await createServer(config, {
    // this server's own logger object: a test swaps its methods (the deps are fixed at creation)
    logger: { ...silentLogger },
    migrate: true,
    clock: clock.read,
    observeRequest: (info) => {
      via.set(info.requestId, /[\\/]src[\\/]fast-route\.[jt]s:/.test(new Error().stack!) ? "fast" : "hono");
      if (observed.fail) throw new Error("log destination gone");
    },
  });
  const { server, port } = await built.listen(mode, { host: "127.0.0.1", port: 0 });
  return { built, app: built.app(mode), server, port, base: `http://127.0.0.1:${port}`, via, observed };
}

/** Points the server's logger methods at `logger` until the returned function is called. */
function swapLogger(s: Srv, logger: Logger): () => void {
  const target = s.built.deps.logger;
  const saved = { ...target };
  Object.assign(target, logger);
  return () => Object.assign(target, saved);
}

async function stop(s: Srv | undefined) {
  if (!s) return;
  await s.built.close();
}

async function toTest(res: Response): Promise<TestResponse> {
  const text = await res.text();
  const parse = () => { try { return JSON.parse(text); } catch { return undefined; } };
  return { status: res.status, headers: res.headers, body: parse(), text };
}

type Body = string | Buffer | undefined;
type Hdrs = Record<string, string> | [string, string][];
const init = (body: Body, headers: Hdrs): RequestInit => ({ method: "POST", headers, body });
/** the reference: the Hono route, as the harness drives it */
const ref = async (s: Srv, body: Body, headers: Hdrs = {}, path = VERIFY) =>
  toTest(await s.app.request(path, init(body, headers), { incoming: { socket: { remoteAddress: "127.0.0.1" } } }));
/** the real server over TCP (fetch always sends a Content-Length for these bodies) */
const real = (s: Srv, body: Body, headers: Record<string, string> = {}, path = VERIFY) => fetch(s.base + path, init(body, headers)).then(toTest);

/** node:http for what fetch cannot send: no Content-Length, chunked, a chosen Content-Length */
function raw(s: Srv, method: string, path: string, headers: Record<string, string | string[]>, chunks: (string | Buffer)[] = []): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: s.port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
        toTest(new Response(Buffer.concat(parts), { status: res.statusCode!, headers: h })).then(resolve, reject);
      });
    });
    req.on("error", reject);
    // no chunks: send no framing header at all (node would add Content-Length: 0 to a bare POST)
    if (chunks.length === 0) for (const h of ["content-length", "transfer-encoding"]) req.removeHeader(h);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

function expectAlike(a: TestResponse, b: TestResponse, sentId?: string) {
  expect(a.status, a.text).toBe(b.status);
  expect(a.body).toEqual(b.body);
  expect(a.body, "JSON body").toBeDefined();
  for (const h of COMPARED) expect(a.headers.get(h), h).toBe(b.headers.get(h));
  const names = (r: TestResponse) => [...r.headers.keys()].filter((k) => !TRANSPORT.has(k)).sort();
  expect(names(a)).toEqual(names(b));
  for (const r of [a, b]) {
    const id = r.headers.get("x-request-id");
    if (sentId && /^[\x21-\x7e]{1,128}$/.test(sentId)) expect(id).toBe(sentId);
    else expect(id).toMatch(UUID_V4);
  }
}

const viaOf = (s: Srv, r: TestResponse) => s.via.get(r.headers.get("x-request-id")!);

/** Sends the same request to both, after checking the real server took the fast path. */
async function same(s: Srv, body: Body, headers: Record<string, string> = {}) {
  const a = await real(s, body, headers);
  expect(viaOf(s, a), "path taken by the real server").toBe("fast");
  const b = await ref(s, body, headers);
  expectAlike(a, b, headers["X-Request-ID"]);
  return a;
}

/** same() for repeated header lines, which fetch cannot send: node:http to the real server */
async function sameLines(s: Srv, body: string, lines: [string, string][]) {
  const headers: Record<string, string[]> = { "Content-Length": [String(Buffer.byteLength(body))] };
  for (const [k, v] of lines) (headers[k] ??= []).push(v);
  const a = await raw(s, "POST", VERIFY, headers, [body]);
  expect(viaOf(s, a)).toBe("fast");
  expectAlike(a, await ref(s, body, lines));
  return a;
}

const cred = (credential: unknown) => JSON.stringify({ credential });
const flipLast = (x: string) => x.slice(0, -1) + (x.endsWith("2") ? "3" : "2");

async function issue(s: Srv, extra: Record<string, unknown> = {}) {
  const r = await ref(s, JSON.stringify({ name: "f", actor_id: `fast-${randomUUID()}`, ...extra }), {}, ISSUED);
  expect(r.status, r.text).toBe(201);
  return { secret: r.body.secret as string, keyId: r.body.issued_api_key.key_id as string };
}

/** The first verify of a key is a MISS, later ones HITs: warm it so both compared calls are HITs. */
async function warm(s: Srv, credential: string) {
  expect((await ref(s, cred(credential))).status).toBe(200);
}

describe("verify fast route answers exactly like the Hono route", () => {
  let s: Srv;
  let key: string;
  beforeAll(async () => {
    s = await start();
    key = (await issue(s, { scopes: ["r", "w"], metadata: { tier: "gold" }, ttl: "2h" })).secret;
    await warm(s, key);
  });
  afterAll(() => stop(s));

  it("a valid issued key", async () => {
    const r = await same(s, cred(key));
    expect(r.body).toMatchObject({ is_valid: true, scopes: ["r", "w"], issuer: TEST_ISSUER });
    expect(r.headers.get("ory-talos-cache")).toBe("HIT");
  });

  it("a failure after the answer (the request log or metrics throwing) neither crashes nor breaks the connection", async () => {
    s.observed.fail = true;
    let r: TestResponse;
    try {
      r = await real(s, cred(key));
    } finally {
      s.observed.fail = false;
    }
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ is_valid: true });
    // the same keep-alive pool still serves
    expect((await real(s, cred(key))).body).toMatchObject({ is_valid: true });
  });

  it("a failure before the head is written: a 500 envelope with the request id and security headers, and one log line", async () => {
    const logged: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
    const capture = (level: string) => (obj: object, msg?: string) => void logged.push({ level, obj: obj as Record<string, unknown>, msg });
    const logger: Logger = { debug: capture("debug"), info: capture("info"), warn: capture("warn"), error: capture("error") };
    const gauge = s.built.deps.inFlight!;
    const dec = gauge.dec;
    // the in-flight gauge is released between the handler's answer and the head: a throw there is
    // past the error mapping, the case the fallback exists for
    gauge.dec = () => {
      throw new Error("gauge gone");
    };
    const restore = swapLogger(s, logger);
    let r: TestResponse;
    try {
      r = await real(s, cred(key), { "X-Request-ID": "fallback-1" });
    } finally {
      gauge.dec = dec;
      restore();
    }
    expect(r.status).toBe(500);
    expect(r.body.error).toMatchObject({ code: 500, status: "INTERNAL", message: "An internal server error occurred." });
    expect(r.body.error.details[0].reason).toBe("INTERNAL_SERVER_ERROR");
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.headers.get("x-request-id")).toBe("fallback-1");
    for (const h of COMPARED.slice(-5)) expect(r.headers.get(h), h).not.toBeNull();
    // nothing of the half-built answer leaks into the fallback
    expect(r.headers.get("ory-talos-cache")).toBeNull();
    expect(r.text).not.toContain(key);
    expect(logged).toEqual([{ level: "error", obj: { err: { type: "Error" }, request_id: "fallback-1" }, msg: "fast route failed" }]);
    // the connection pool still serves
    expect((await real(s, cred(key))).body).toMatchObject({ is_valid: true });
  });

  it("a failure while writing the head (an invalid header value) falls back the same way", async () => {
    const logged: string[] = [];
    const restore = swapLogger(s, { ...silentLogger, error: (_obj, msg) => void logged.push(msg ?? "") });
    // verifyHandler holds this very verifier object: a result whose header value node:http refuses
    const verifier = s.built.deps.verifier;
    const verify = verifier.verify;
    verifier.verify = async (...args) => ({ ...(await verify.apply(verifier, args)), cache: "HIT\r\nx-injected: 1" as "HIT" });
    let r: TestResponse;
    try {
      r = await real(s, cred(key));
    } finally {
      verifier.verify = verify;
      restore();
    }
    expect(r.status).toBe(500);
    expect(r.headers.get("x-injected")).toBeNull();
    expect(r.headers.get("x-request-id")).toMatch(UUID_V4);
    expect(r.body.error.status).toBe("INTERNAL");
    expect(logged).toEqual(["fast route failed"]);
  });

  it("the first verify of a key (MISS on both: two keys issued alike, one per path)", async () => {
    const extra = { actor_id: `miss-${randomUUID()}`, scopes: ["m"] };
    const [k1, k2] = [await issue(s, extra), await issue(s, extra)];
    const a = await real(s, cred(k1.secret));
    const b = await ref(s, cred(k2.secret));
    expect(a.headers.get("ory-talos-cache")).toBe("MISS");
    expectAlike(a, { ...b, body: { ...b.body, key_id: k1.keyId } });
  });

  it("invalid UTF-8 is a 400 on both paths, never decoded to U+FFFD (keys must not collide)", async () => {
    const hex = randomUUID().replaceAll("-", "");
    const bad = Buffer.from([0xff, 0xe0, 0x80, 0xf0, 0x9f, 0x98, 0xed, 0xa0, 0x80]);
    // the key a replacing decoder would make of those bytes (each malformed sequence becomes U+FFFD)
    const decoded = `sk_test_${hex}${new TextDecoder().decode(bad)}`;
    for (const rawKey of [`sk_test_${hex}`, decoded]) {
      const r = await ref(s, JSON.stringify({ raw_key: rawKey, name: "imp", actor_id: "imp-actor" }), {}, IMPORTED);
      expect(r.status, r.text).toBe(201);
      await warm(s, rawKey);
    }
    expect((await same(s, cred(`sk_test_${hex}`))).body.is_valid).toBe(true);
    // U+FFFD sent as valid UTF-8 is an ordinary character
    expect((await same(s, cred(decoded))).body.is_valid).toBe(true);
    const body = Buffer.concat([Buffer.from(`{"credential":"sk_test_${hex}`), bad, Buffer.from('"}')]);
    const r = await same(s, body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ status: "INVALID_ARGUMENT", message: "request body is not valid UTF-8" });
  });

  it("credentials that are not found: unknown issued key, bad checksum, garbage", async () => {
    const unknown = mintIssuedKey({ prefix: "ory_ak", secret: TEST_SECRET, keyId: randomUUID(), unixSeconds: Math.floor(clock.now / 1000) });
    for (const c of [unknown, flipLast(key), "garbage", "x".repeat(8192)]) {
      expect((await same(s, cred(c))).body.error_code, c).toBe("VERIFICATION_ERROR_NOT_FOUND");
    }
  });

  it("request bodies that are rejected or empty", async () => {
    const deep = `{"credential":"x","a":${"[".repeat(150)}${"]".repeat(150)}}`;
    const cases: [string, Body, number][] = [
      ["empty credential", cred(""), 400],
      ["null credential", cred(null), 400],
      ["missing credential", JSON.stringify({ other: 1 }), 400],
      ["{}", "{}", 400],
      ["empty body (Content-Length: 0)", "", 400],
      ["whitespace body", " \n ", 400],
      ["broken JSON", '{"credential":', 400],
      ["JSON array", `[${cred(key)}]`, 400],
      ["JSON null", "null", 400],
      ["JSON string", '"x"', 400],
      ["wrong type", cred(5), 400],
      ["credential over 8192 characters", cred("x".repeat(8193)), 400],
      // `credential` is one word, so it has no lowerCamelCase alias; the duplicate rule of docs/wire.md#json-requests still
      // applies to every field, unknown ones included
      ["same field in snake_case and lowerCamelCase", JSON.stringify({ credential: key, foo_bar: 1, fooBar: 2 }), 400],
      ["150 levels of nesting", deep, 400],
      ["credential given twice (last wins)", `{"credential":"garbage","credential":${JSON.stringify(key)}}`, 200],
      ["UTF-8 BOM prefix", `\uFEFF${cred(key)}`, 200],
    ];
    for (const [name, body, status] of cases) expect((await same(s, body)).status, name).toBe(status);
  });

  it("two BOMs: like Hono on node:http, which strips one (app.request strips both)", async () => {
    // The reference here is Hono behind the real server (`?x=1`), not app.request: Node 20's
    // undici Request.text() strips a BOM twice (200), while @hono/node-server decodes a
    // Content-Length body itself with one strip (400), exactly as the fast path does.
    const body = `\uFEFF\uFEFF${cred(key)}`;
    const [a, b] = [await real(s, body), await real(s, body, {}, `${VERIFY}?x=1`)];
    expect([viaOf(s, a), viaOf(s, b)]).toEqual(["fast", "hono"]);
    expectAlike(a, b);
    expect(a.status).toBe(400);
  });

  it("X-Request-ID: a valid one is echoed, an invalid one replaced", async () => {
    for (const id of ["req-123", "a".repeat(128), "a".repeat(129), "has space", "é"]) {
      await same(s, cred(key), { "X-Request-ID": id });
      await same(s, cred(""), { "X-Request-ID": id }); // error envelopes too
    }
  });

  it("Cache-Control no-cache / no-store and Pragma: no-cache bypass the cache alike", async () => {
    const cases: Record<string, string>[] = [{ "Cache-Control": "no-cache" }, { "Cache-Control": "max-age=0, NO-STORE" }, { Pragma: "no-cache" }];
    for (const h of cases) {
      expect((await same(s, cred(key), h)).headers.get("ory-talos-cache")).toBe("SKIP");
    }
  });

  it("repeated header lines are joined alike (Cache-Control, Pragma, X-Request-ID)", async () => {
    const lines: [string, string][] = [["Cache-Control", "max-age=0"], ["Cache-Control", "no-store"], ["X-Request-ID", "a"], ["X-Request-ID", "b"]];
    expect((await sameLines(s, cred(key), lines)).headers.get("ory-talos-cache")).toBe("SKIP");
    expect((await sameLines(s, cred(key), [["Pragma", "x"], ["Pragma", "no-cache"]])).headers.get("ory-talos-cache")).toBe("SKIP");
  });

  it("a revoked key and an expired key", async () => {
    const k = await issue(s);
    expect((await ref(s, "{}", {}, `${ISSUED}/${k.keyId}:revoke`)).status).toBe(204);
    await warm(s, k.secret);
    expect((await same(s, cred(k.secret))).body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    const e = await issue(s, { ttl: "1s" });
    clock.tick(1000);
    await warm(s, e.secret);
    expect((await same(s, cred(e.secret))).body.error_code).toBe("VERIFICATION_ERROR_EXPIRED");
  });

  it("an IP allowlist checked against the socket peer (127.0.0.1 on both paths)", async () => {
    const inside = await issue(s, { ip_restriction: { allowed_cidrs: ["127.0.0.0/8"] } });
    const outside = await issue(s, { ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] } });
    await warm(s, inside.secret);
    await warm(s, outside.secret);
    // X-Forwarded-For is ignored under the default client_ip_source
    const ok = await same(s, cred(inside.secret), { "X-Forwarded-For": "10.1.2.3" });
    expect(ok.body.is_valid).toBe(true);
    expect(ok.headers.get("cache-control")).toBe("no-store");
    expect((await same(s, cred(outside.secret), { "X-Forwarded-For": "10.1.2.3" })).body.error_code).toBe("VERIFICATION_ERROR_IP_NOT_ALLOWED");
  });

  it("rate limits: the same sequence on two identical keys, one per path", async () => {
    // Each verify consumes quota, so one key cannot serve both paths. Two keys issued alike under
    // the frozen clock have identical limiter state at every step; only key_id differs.
    const extra = { actor_id: `rl-${randomUUID()}`, rate_limit_policy: { quota: "2", window: "60s" } };
    const [k1, k2] = [await issue(s, extra), await issue(s, extra)];
    const codes = [];
    for (let i = 0; i < 4; i++) {
      const a = await real(s, cred(k1.secret));
      expect(viaOf(s, a)).toBe("fast");
      const b = await ref(s, cred(k2.secret));
      expectAlike(a, { ...b, body: { ...b.body, key_id: k1.keyId } });
      codes.push(a.body.error_code);
      if (i === 2) {
        expect(a.headers.get("retry-after")).toBe("30");
        expect(a.headers.get("ratelimit")).toBe('"default";r=0;t=60');
        expect(a.body.rate_limit_policy).toEqual({ quota: "2", window: "60s", unit: "" });
      }
    }
    expect(codes).toEqual(["VERIFICATION_ERROR_UNSPECIFIED", "VERIFICATION_ERROR_UNSPECIFIED", "VERIFICATION_ERROR_RATE_LIMITED", "VERIFICATION_ERROR_RATE_LIMITED"]);
  });

  it("failures: a store error inside verify (200 INTERNAL) and errors escaping the handler (envelopes)", async () => {
    const repo = s.built.store.repo;
    // verify reads through the coalescing key reader, which queries getKeys
    const getKeys = repo.getKeys;
    repo.getKeys = () => Promise.reject(new Error("down"));
    try {
      // no-cache forces the store read
      expect((await same(s, cred(key), { "Cache-Control": "no-cache" })).body.error_code).toBe("VERIFICATION_ERROR_INTERNAL");
    } finally {
      repo.getKeys = getKeys;
    }
    // verifyHandler holds this very verifier object, so patching its method reaches both paths
    const verifier = s.built.deps.verifier;
    const verify = verifier.verify;
    const thrown = [new StoreUnavailableError("x"), new Error("boom"), new TalosError("bad_request", "nope", { field: "f" })];
    try {
      for (const [i, err] of thrown.entries()) {
        verifier.verify = () => Promise.reject(err);
        expect((await same(s, cred(key))).status, String(err)).toBe([503, 500, 400][i]);
      }
    } finally {
      verifier.verify = verify;
    }
  });

  it("a body of exactly 4 MiB is still served by the fast path", async () => {
    const body = cred(key);
    await same(s, body.slice(0, -1) + " ".repeat(4 * 1024 * 1024 - body.length) + "}");
  });

  describe("fall-through to Hono on the real server", () => {
    it("a query string, a percent-encoded path (%3A = :, docs/wire.md#paths-and-query-strings): 200 valid, as app.request", async () => {
      for (const path of [`${VERIFY}?x=1`, "/v2alpha1/admin/apiKeys%3Averify"]) {
        const a = await real(s, cred(key), {}, path);
        expect(viaOf(s, a), path).toBe("hono");
        expect(a.body.is_valid, path).toBe(true);
        expectAlike(a, await ref(s, cred(key), {}, path));
      }
    });

    it("GET on the verify path: 405 with Allow", async () => {
      const a = await raw(s, "GET", VERIFY, {});
      expect(a.status).toBe(405);
      expect(a.headers.get("allow")).toContain("POST");
      expect(a.body.error.status).toBe("UNIMPLEMENTED");
    });

    it("a chunked body: 200 valid", async () => {
      const body = cred(key);
      const a = await raw(s, "POST", VERIFY, { "Transfer-Encoding": "chunked" }, [body.slice(0, 5), body.slice(5)]);
      expect(viaOf(s, a)).toBe("hono");
      expect(a.status).toBe(200);
      expect(a.body.is_valid).toBe(true);
      expectAlike(a, await ref(s, body));
    });

    it("no body and no Content-Length: credential_required", async () => {
      const a = await raw(s, "POST", VERIFY, {});
      expect(viaOf(s, a)).toBe("hono");
      expectAlike(a, await ref(s, undefined));
      expect(a.body.error.details[0].reason).toBe("CREDENTIAL_REQUIRED");
    });

    it("a body over 4 MiB with Content-Length: 413 envelope", async () => {
      const a = await raw(s, "POST", VERIFY, { "Content-Length": String(4 * 1024 * 1024 + 1) }, [" ".repeat(4 * 1024 * 1024 + 1)]);
      expect(a.status).toBe(413);
      expect(a.body.error).toMatchObject({ code: 413, status: "RESOURCE_EXHAUSTED" });
    });
  });
});

describe("verify fast route with client_ip_source X-Forwarded-For", () => {
  let s: Srv;
  beforeAll(async () => {
    s = await start({ "serve.http.client_ip_source": "CLIENT_IP_SOURCE_X_FORWARDED_FOR" });
  });
  afterAll(() => stop(s));

  it("an IP allowlist decided by X-Forwarded-For alike on both paths", async () => {
    const k = await issue(s, { ip_restriction: { allowed_cidrs: ["10.1.0.0/16", "2001:db8::/32"] } });
    await warm(s, k.secret);
    const cases: [Record<string, string>, boolean][] = [
      [{ "X-Forwarded-For": "10.1.2.3" }, true],
      [{ "X-Forwarded-For": "10.1.2.3, 203.0.113.9" }, true],
      [{ "X-Forwarded-For": "2001:db8::1" }, true],
      [{ "X-Forwarded-For": "10.2.0.1" }, false],
      [{ "X-Forwarded-For": "not-an-ip" }, false],
      [{}, false], // falls back to the socket peer 127.0.0.1
    ];
    for (const [h, ok] of cases) expect((await same(s, cred(k.secret), h)).body.is_valid, JSON.stringify(h)).toBe(ok);
    const lines: [string, string][] = [["X-Forwarded-For", "10.1.2.3"], ["X-Forwarded-For", "203.0.113.9"]];
    expect((await sameLines(s, cred(k.secret), lines)).body.is_valid).toBe(true);
  });
});

describe("the fast route in all mode", () => {
  let s: Srv;
  beforeAll(async () => {
    s = await start({}, "all");
  });
  afterAll(() => stop(s));

  it("serves verify ahead of Hono, and the public routes of the same listener through Hono", async () => {
    const k = await issue(s);
    await warm(s, k.secret);
    expect((await same(s, cred(k.secret))).body.is_valid).toBe(true);
    const revoked = await real(s, cred(k.secret), {}, "/v2alpha1/apiKeys:selfRevoke");
    expect(viaOf(s, revoked)).toBe("hono");
    expect(revoked.status, revoked.text).toBe(200);
    await warm(s, k.secret);
    expect((await same(s, cred(k.secret))).body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
  });
});

describe("with CORS enabled, verify bypasses the fast route", () => {
  const ORIGIN = "https://console.example.com";
  let s: Srv;
  beforeAll(async () => {
    s = await start({ "serve.http.cors.enabled": true, "serve.http.cors.allowed_origins": [ORIGIN], "serve.http.cors.exposed_headers": ["Ory-Talos-Cache"] });
  });
  afterAll(() => stop(s));

  it("Hono answers, with the CORS headers the fast route could not add, and the same body", async () => {
    const k = await issue(s);
    await warm(s, k.secret);
    const a = await real(s, cred(k.secret), { Origin: ORIGIN });
    expect(viaOf(s, a)).toBe("hono");
    expect(a.body.is_valid).toBe(true);
    expect(a.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(a.headers.get("access-control-expose-headers")).toContain("Ory-Talos-Cache");
    // without an Origin too: the listener decides once, from the config, not per request
    const b = await real(s, cred(k.secret));
    expect(viaOf(s, b)).toBe("hono");
    expect(b.body).toEqual(a.body);
    const preflight = await fetch(s.base + VERIFY, { method: "OPTIONS", headers: { Origin: ORIGIN, "Access-Control-Request-Method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ORIGIN);
  });
});
