import { request as httpRequest } from "node:http";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appFor } from "@talos/server";
import { startTestServer, type TestResponse, type TestServer } from "../support/harness.js";
import { BATCH_VERIFY, ISSUED, SECURITY_HEADERS, SELF_REVOKE, UUID_V4, VERIFY, signingJwksUrl } from "../support/http-expect.js";

/**
 * Request input that must be rejected, not reinterpreted (issue 12, defects 5, 7 and 11): bytes that
 * are not UTF-8, lone surrogates, keys that reach a prototype, and dot segments in a path. In
 * process through the harness where Hono sees the input as sent, and as raw HTTP against a real
 * listener where Node's own parsing matters (bytes on the fast route, paths).
 */

const IMPORTED = "/v2alpha1/admin/importedApiKeys";
const DERIVE = "/v2alpha1/admin/apiKeys:derive";

let s: TestServer;
let port: number;

beforeAll(async () => {
  s = await startTestServer({ mode: "all", overrides: { "credentials.derived_tokens.jwt.signing_keys.urls": [signingJwksUrl("input")] } });
  ({ port } = await s.built.listen("all", { host: "127.0.0.1", port: 0 }));
});
afterAll(async () => {
  await s?.close();
});

const toTest = (status: number, headers: Headers, text: string): TestResponse => {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status, headers, body, text };
};

/** In process: the Hono app with a body of raw bytes (the harness would JSON-encode a Buffer). */
async function inProcess(method: string, path: string, body: Buffer | string): Promise<TestResponse> {
  const res = await appFor("all", s.deps).request(path, { method, body }, { incoming: { socket: { remoteAddress: "127.0.0.1" } } });
  return toTest(res.status, res.headers, await res.text());
}

/** Over TCP with node:http, which sends the path and the bytes exactly as given (fetch would normalise the URL). */
function rawHttp(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
        resolve(toTest(res.statusCode!, h, Buffer.concat(parts).toString("utf8")));
      });
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function expect400(r: TestResponse, message?: string | RegExp, field?: string) {
  expect(r.status, r.text).toBe(400);
  expect(r.body.error).toMatchObject({ code: 400, status: "INVALID_ARGUMENT" });
  if (typeof message === "string") expect(r.body.error.message).toBe(message);
  else if (message) expect(r.body.error.message).toMatch(message);
  if (field !== undefined) expect(r.body.error.details[0].metadata.field).toBe(field);
  expect(r.headers.get("x-request-id")).toBeTruthy();
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) expect(r.headers.get(k), k).toBe(v);
}

async function issue(extra: Record<string, unknown> = {}) {
  const r = await s.request("POST", ISSUED, { name: "input", actor_id: `input-${randomUUID()}`, ...extra });
  expect(r.status, r.text).toBe(201);
  return { secret: r.body.secret as string, keyId: r.body.issued_api_key.key_id as string };
}

async function keysOf(actorId: string): Promise<unknown[]> {
  const r = await s.request("GET", `${ISSUED}?filter=${encodeURIComponent(`actor_id="${actorId}"`)}`);
  expect(r.status, r.text).toBe(200);
  return r.body.issued_api_keys;
}

const NOT_UTF8 = "request body is not valid UTF-8";
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

describe("bodies that are not valid UTF-8 are a 400, never decoded to U+FFFD (defect 5)", () => {
  it("two different imported keys cannot collide through replacement characters", async () => {
    // the key a replacing decoder makes of both `sk_\xff\xfe_utf8` and `sk_\xc0\xc1_utf8`
    const tag = randomUUID().slice(0, 8);
    const replaced = `sk_${tag}\ufffd\ufffd_utf8`;
    const imp = await s.request("POST", IMPORTED, { raw_key: replaced, name: "fffd", actor_id: "utf8" });
    expect(imp.status, imp.text).toBe(201);
    const importBad = bytes(`{"raw_key":"sk_${tag}`, [0xff, 0xfe], `_utf8","name":"bad","actor_id":"utf8"}`);
    const verifyBad = bytes(`{"credential":"sk_${tag}`, [0xc0, 0xc1], `_utf8"}`);
    for (const send of [inProcess, rawHttp]) {
      expect400(await send("POST", IMPORTED, importBad), NOT_UTF8);
      // the fast route over TCP, Hono in process
      const v = await send("POST", VERIFY, verifyBad);
      expect400(v, NOT_UTF8);
      expect(v.text).not.toContain("is_valid");
    }
    // the replacement characters themselves, sent as valid UTF-8, are an ordinary key
    expect((await s.request("POST", VERIFY, { credential: replaced })).body.is_valid).toBe(true);
  });

  it("every JSON route, on both paths: overlong, truncated, surrogate-encoding and stray continuation bytes", async () => {
    const bad = [[0xc0, 0xaf], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x80], [0xf5, 0x80, 0x80, 0x80], [0xf0, 0x9f, 0x98]];
    const routes: [string, string, string][] = [
      ["POST", VERIFY, '{"credential":"x'],
      ["POST", BATCH_VERIFY, '{"requests":[{"credential":"x'],
      ["POST", ISSUED, '{"actor_id":"a","name":"'],
      ["POST", SELF_REVOKE, '{"credential":"x'],
      ["POST", DERIVE, '{"credential":"x'],
    ];
    for (const seq of bad) {
      for (const [method, path, head] of routes) {
        const body = bytes(head, seq, '"}');
        expect400(await inProcess(method, path, body), NOT_UTF8);
        expect400(await rawHttp(method, path, body), NOT_UTF8);
      }
    }
    // chunked: the Hono path of the real listener
    expect400(await rawHttp("POST", VERIFY, bytes('{"credential":"', [0xff], '"}'), { "Transfer-Encoding": "chunked" }), NOT_UTF8);
    // a byte-order mark is still dropped, and 4-byte characters are fine
    const k = await issue({ name: "😀" });
    expect((await rawHttp("POST", VERIFY, `\ufeff{"credential":"${k.secret}"}`)).body.is_valid).toBe(true);
  });
});

describe("JSON strings with lone surrogates are a 400 (defect 5)", () => {
  it("sk_\\ud800x, sk_\\udfffx and sk_\\ufffdx are three different keys, and only the last can exist", async () => {
    const tag = randomUUID().slice(0, 8);
    const imp = (raw: string) => `{"raw_key":"sk_${tag}${raw}x","name":"s","actor_id":"surrogates"}`;
    for (const send of [inProcess, rawHttp]) {
      expect400(await send("POST", IMPORTED, imp("\\ud800")), /unpaired UTF-16 surrogate/, "raw_key");
      expect400(await send("POST", IMPORTED, imp("\\uDFFF")), /unpaired UTF-16 surrogate/, "raw_key");
    }
    const ok = await inProcess("POST", IMPORTED, imp("\\ufffd"));
    expect(ok.status, ok.text).toBe(201);
    for (const send of [inProcess, rawHttp]) {
      for (const lone of ["\\ud800", "\\udfff", "\\uD83D", "\\ude00\\ud83d"]) {
        expect400(await send("POST", VERIFY, `{"credential":"sk_${tag}${lone}x"}`), /unpaired UTF-16 surrogate/, "credential");
      }
      expect((await send("POST", VERIFY, `{"credential":"sk_${tag}\\ufffdx"}`)).body.is_valid).toBe(true);
    }
  });

  it("anywhere in the body: nested, in metadata keys and values, in batch items; a surrogate pair is fine", async () => {
    expect400(
      await inProcess("POST", BATCH_VERIFY, '{"requests":[{"credential":"ok"},{"credential":"\\udc00"}]}'),
      /surrogate/,
      "requests[1].credential",
    );
    expect400(await inProcess("POST", ISSUED, '{"actor_id":"a","metadata":{"k\\ud800":1}}'), /surrogate/, "metadata");
    expect400(await inProcess("POST", ISSUED, '{"actor_id":"a","metadata":{"k":[{"d":"\\ud800"}]}}'), /surrogate/, "metadata");
    expect400(await inProcess("POST", VERIFY, '{"credential":"x","unknown_field":"\\ud800"}'), /surrogate/, "unknown_field");
    const pair = await inProcess("POST", ISSUED, '{"actor_id":"pair","name":"\\ud83d\\ude00","metadata":{"\\ud83d\\ude00":"\\uD83D\\uDE00"}}');
    expect(pair.status, pair.text).toBe(201);
    expect(pair.body.issued_api_key.name).toBe("😀");
    // an escaped backslash followed by "ud800" is not an escape
    expect((await inProcess("POST", ISSUED, '{"actor_id":"bs","name":"\\\\ud800"}')).status).toBe(201);
  });
});

describe("__proto__, constructor and prototype keys are a 400 at any depth (defect 11)", () => {
  it('{"__proto__":{"credential":"<secret>"}} does not verify, on either path', async () => {
    const k = await issue();
    for (const send of [inProcess, rawHttp]) {
      const r = await send("POST", VERIFY, `{"__proto__":{"credential":"${k.secret}"}}`);
      expect400(r, 'request body must not contain the key "__proto__"', "__proto__");
      expect(r.text).not.toContain("is_valid");
    }
  });

  it("an issue body cannot smuggle actor_id or scopes through __proto__; nothing is written", async () => {
    const smuggled = `smuggled-${randomUUID()}`;
    for (const send of [inProcess, rawHttp]) {
      const r = await send("POST", ISSUED, `{"name":"a","__proto__":{"actor_id":"${smuggled}","scopes":["admin"]}}`);
      expect400(r, /"__proto__"/);
    }
    expect(await keysOf(smuggled)).toEqual([]);
  });

  it("inside metadata, custom_claims, nested messages, batch items and arrays, in either spelling", async () => {
    const k = await issue();
    const cases: [string, string][] = [
      [ISSUED, '{"actor_id":"a","metadata":{"__proto__":{"x":1}}}'],
      [ISSUED, '{"actor_id":"a","metadata":{"constructor":"x"}}'],
      [ISSUED, '{"actor_id":"a","metadata":{"deep":[{"ok":1},{"prototype":{"x":1}}]}}'],
      [ISSUED, '{"actor_id":"a","rate_limit_policy":{"quota":1,"window":"1s","__proto__":{"unit":"x"}}}'],
      [ISSUED, '{"actor_id":"a","constructor":{"name":"x"}}'],
      [IMPORTED, '{"raw_key":"sk_proto_test_key","actor_id":"a","prototype":1}'],
      [BATCH_VERIFY, `{"requests":[{"__proto__":{"credential":"${k.secret}"}}]}`],
      [DERIVE, `{"credential":"${k.secret}","custom_claims":{"__proto__":{"sub":"root"}}}`],
      [DERIVE, `{"credential":"${k.secret}","custom_claims":{"nested":{"constructor":{"prototype":1}}}}`],
      [SELF_REVOKE, `{"__proto__":{"credential":"${k.secret}"}}`],
    ];
    for (const [path, body] of cases) {
      expect400(await inProcess("POST", path, body), /must not contain the key "(__proto__|constructor|prototype)"/);
    }
    // lowerCamelCase spelling that becomes __proto__ in snake_case (docs/wire.md#json-requests)
    expect400(await inProcess("POST", ISSUED, '{"actor_id":"a","_Proto__":{"name":"x"}}'), /not allowed/, "__proto__");
    // the key is still active: self-revoke did not read the smuggled credential
    expect((await s.request("POST", VERIFY, { credential: k.secret })).body.is_valid).toBe(true);
  });

  it("similar names are ordinary keys", async () => {
    const r = await inProcess("POST", ISSUED, '{"actor_id":"proto-like","metadata":{"proto":1,"__proto":2,"Constructor":3,"prototypes":4}}');
    expect(r.status, r.text).toBe(201);
    expect(r.body.issued_api_key.metadata).toEqual({ proto: 1, __proto: 2, Constructor: 3, prototypes: 4 });
  });
});

describe("a path is matched as sent: dot segments and encoded slashes never reach another route (defect 7)", () => {
  it("POST selfRevoke/%2e%2e/admin/issuedApiKeys and its variants issue nothing", async () => {
    const actor = `dots-${randomUUID()}`;
    const body = JSON.stringify({ name: "dots", actor_id: actor });
    const paths = [
      "/v2alpha1/apiKeys:selfRevoke/%2e%2e/admin/issuedApiKeys",
      "/v2alpha1/apiKeys:selfRevoke/%2E%2E/admin/issuedApiKeys",
      "/v2alpha1/apiKeys:selfRevoke/.%2e/admin/issuedApiKeys",
      "/v2alpha1/apiKeys:selfRevoke/%2e./admin/issuedApiKeys",
      "/v2alpha1/apiKeys:selfRevoke/../admin/issuedApiKeys",
      "/v2alpha1/admin/./issuedApiKeys",
      "/v2alpha1/admin/%2e/issuedApiKeys",
      "/v2alpha1/admin/issuedApiKeys/.",
      "/v2alpha1/admin/issuedApiKeys/x/..",
      "/v2alpha1/admin/issuedApiKeys/x/%2e%2e?page_size=1",
      // absolute-form request target (RFC 9112 §3.2.2), which a proxy may forward as is
      "http://127.0.0.1/v2alpha1/apiKeys:selfRevoke/%2e%2e/admin/issuedApiKeys",
    ];
    for (const path of paths) {
      const r = await rawHttp("POST", path, body);
      expect400(r, /'\.' or '\.\.' segment/);
      expect(r.headers.get("x-request-id")).toMatch(UUID_V4);
    }
    expect(await keysOf(actor)).toEqual([]);
  });

  it("GET and the fast route's path alike; encoded slashes are a 404; dots inside a segment or in the query are ordinary", async () => {
    const k = await issue();
    expect400(await rawHttp("GET", "/health/../health/ready"), /segment/);
    expect400(await rawHttp("POST", "/v2alpha1/admin/x/../apiKeys:verify", JSON.stringify({ credential: k.secret })), /segment/);
    expect400(await rawHttp("GET", `/v2alpha1/admin/issuedApiKeys/%2e%2e/issuedApiKeys/${k.keyId}`), /segment/);
    for (const path of [
      "/v2alpha1/admin%2fissuedApiKeys",
      "/v2alpha1/apiKeys:selfRevoke%2f..%2fadmin%2fissuedApiKeys",
      "/v2alpha1/admin/issuedApiKeys%2F",
    ]) {
      const r = await rawHttp("POST", path, JSON.stringify({ actor_id: "slash" }));
      expect(r.status, path).toBe(404);
      expect(r.body.error.status).toBe("NOT_FOUND");
    }
    expect((await rawHttp("GET", `${ISSUED}/..${k.keyId}`)).status).toBe(404);
    // an empty first segment is not the admin route either
    expect((await rawHttp("POST", "//v2alpha1/admin/issuedApiKeys", JSON.stringify({ actor_id: "slash" }))).status).toBe(404);
    // a backslash (URL parsing would read it as "/") is refused by @hono/node-server before routing
    expect((await rawHttp("POST", "/v2alpha1/apiKeys:selfRevoke\\..\\admin\\issuedApiKeys", JSON.stringify({ actor_id: "bs" }))).status).toBe(400);
    const withDotsInQuery = await rawHttp("POST", `${VERIFY}?next=/../admin`, JSON.stringify({ credential: k.secret }));
    expect(withDotsInQuery.body.is_valid).toBe(true);
    expect((await rawHttp("GET", `${ISSUED}/${k.keyId}`)).status).toBe(200);
  });
});
