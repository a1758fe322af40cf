/** Requests built for one purpose: a single issue-12 defect in a valid body, and raw bytes. */
import fc from "fast-check";
import { A, type FuzzCase } from "./case.js";
import { Dyn, Obj, type J } from "./json.js";
import { BAD_UNITS, badUtf8, TINY_TTLS, type Pools } from "./values.js";

/**
 * A well-formed request with exactly one defect from issue 12 (tiny ttl, bad rate-limit unit,
 * `__proto__`, lone surrogate, invalid UTF-8), so nothing else in the body can explain a 400.
 */
export function targetedCase(p: Pools): fc.Arbitrary<FuzzCase> {
  const fresh = hexKey();
  const base = fc.oneof(
    fc.constant({
      route: `POST ${A}/issuedApiKeys`,
      path: `${A}/issuedApiKeys`,
      body: [
        ["name", "fz"],
        ["actor_id", "fz-actor"],
        ["scopes", ["read"]],
      ] as [string, J][],
    }),
    fresh.map((raw) => ({
      route: `POST ${A}/importedApiKeys`,
      path: `${A}/importedApiKeys`,
      body: [
        ["raw_key", raw],
        ["name", "fz"],
        ["actor_id", "fz-actor"],
      ] as [string, J][],
    })),
    fc.nat().map((i) => ({ route: `POST ${A}/apiKeys:derive`, path: `${A}/apiKeys:derive`, body: [["credential", new Dyn(i)]] as [string, J][] })),
    fc.nat().map((i) => ({ route: `POST ${A}/apiKeys:verify`, path: `${A}/apiKeys:verify`, body: [["credential", new Dyn(i)]] as [string, J][] })),
    fc
      .constantFrom(...p.issuedIds)
      .map((id) => ({ route: `PATCH ${A}/issuedApiKeys/{key_id}`, path: `${A}/issuedApiKeys/${id}`, body: [["name", "fz"]] as [string, J][] })),
    fc
      .constantFrom(...p.issuedIds)
      .map((id) => ({ route: `POST ${A}/issuedApiKeys/{key_id}:rotate`, path: `${A}/issuedApiKeys/${id}:rotate`, body: [] as [string, J][] })),
  );
  const defect = fc.oneof(
    fc.constantFrom(...TINY_TTLS).map((t) => ({ only: /issuedApiKeys$|importedApiKeys$|:derive$/, entry: ["ttl", t] as [string, J] })),
    fc.constantFrom(...BAD_UNITS).map((u) => ({
      only: /issuedApiKeys|importedApiKeys$/,
      entry: [
        "rate_limit_policy",
        new Obj([
          ["quota", "10"],
          ["window", "60s"],
          ["unit", u],
        ]),
      ] as [string, J],
    })),
    fc
      .constantFrom<[string, J]>(
        [
          "__proto__",
          new Obj([
            ["actor_id", "smuggled"],
            ["scopes", ["admin"]],
          ]),
        ],
        ["__proto__", new Obj([["credential", "x"]])],
      )
      .map((entry) => ({ only: /./, entry })),
    fc.constant({ only: /issuedApiKeys|importedApiKeys$/, entry: ["metadata", new Obj([["__proto__", new Obj([["admin", true]])]])] as [string, J] }),
    fc.constant({ only: /:derive$/, entry: ["custom_claims", new Obj([["__proto__", new Obj([["admin", true]])]])] as [string, J] }),
    badUtf8().map((v) => ({ only: /./, entry: ["name", v] as [string, J] })),
  );
  return fc.tuple(base, defect).map(([b, d]): FuzzCase => {
    const entries: [string, J][] = d.only.test(b.route) ? [...b.body, d.entry] : b.body;
    return {
      route: b.route,
      method: b.route.split(" ")[0]!,
      path: b.path,
      headers: [],
      body: { value: new Obj(entries), mutation: "none" },
      tags: [],
    };
  });
}
const hexKey = () => fc.noBias(fc.bigInt({ min: 0n, max: 16n ** 32n - 1n })).map((b) => `sk_fuzz_${b.toString(16).padStart(32, "0")}`);

/** Raw bytes: the request-line, header and framing errors Node's own parser answers. */
export function rawCase(): fc.Arbitrary<FuzzCase> {
  const V = `${A}/apiKeys:verify`;
  const body = '{"credential":"x"}';
  const cl = `Content-Length: ${body.length}\r\n`;
  const raw = (name: string, text: string): FuzzCase => ({ route: "raw", method: "RAW", path: name, headers: [], raw: text, tags: ["raw", name] });
  return fc.oneof(
    fc.constantFrom(
      raw("unknown method", "FOO /health/alive HTTP/1.1\r\nHost: h\r\n\r\n"),
      raw("lower-case method", "get /health/alive HTTP/1.1\r\nHost: h\r\n\r\n"),
      raw("bare LF", `POST ${V} HTTP/1.1\nHost: h\n${cl.replace("\r", "")}\n${body}`),
      raw("NUL in header", `POST ${V} HTTP/1.1\r\nHost: h\r\nX-A: a\u0000b\r\n${cl}\r\n${body}`),
      raw("header without colon", `POST ${V} HTTP/1.1\r\nHost: h\r\nNoColon\r\n${cl}\r\n${body}`),
      raw("space before colon", `POST ${V} HTTP/1.1\r\nHost: h\r\nX-A : b\r\n${cl}\r\n${body}`),
      raw("obs-fold", `POST ${V} HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n${cl}\r\n${body}`),
      raw("URL over 16 KB", `GET /health/alive?${"a".repeat(17_000)} HTTP/1.1\r\nHost: h\r\n\r\n`),
      raw("header over 16 KB", `GET /health/alive HTTP/1.1\r\nHost: h\r\nX-Big: ${"b".repeat(17_000)}\r\n\r\n`),
      raw("two Content-Lengths", `POST ${V} HTTP/1.1\r\nHost: h\r\n${cl}Content-Length: 3\r\n\r\n${body}`),
      raw(
        "Content-Length and chunked",
        `POST ${V} HTTP/1.1\r\nHost: h\r\n${cl}Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      ),
      raw("bad chunk size", `POST ${V} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`),
      raw(
        "chunked",
        `POST ${V} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      ),
      raw("negative Content-Length", `POST ${V} HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n${body}`),
      raw("HTTP/1.0", `POST ${V} HTTP/1.0\r\n${cl}\r\n${body}`),
      raw("HTTP/2.0 request line", `GET /health/alive HTTP/2.0\r\nHost: h\r\n\r\n`),
      raw("HTTP/9.9 request line", `GET /health/alive HTTP/9.9\r\nHost: h\r\n\r\n`),
      raw("no version", `GET /health/alive\r\nHost: h\r\n\r\n`),
      raw("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
      raw("missing Host", `POST ${V} HTTP/1.1\r\nConnection: close\r\n${cl}\r\n${body}`),
      raw("two Host headers", `GET /health/alive HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n`),
      raw("absolute-form target", `GET http://127.0.0.1/health/alive HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`),
      raw("asterisk target", `OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`),
      raw("target without slash", `GET health/alive HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`),
      raw("raw UTF-8 in target", `GET /health/\u00e9\u00e9 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`),
      raw("space in target", `GET /health/a b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`),
      raw("CONNECT", `CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n`),
      raw("Expect: foo", `POST ${V} HTTP/1.1\r\nHost: h\r\nExpect: foo\r\nConnection: close\r\n${cl}\r\n${body}`),
      raw(
        "Upgrade websocket",
        `GET /health/alive HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
      raw(
        "Upgrade h2c",
        `GET /health/alive HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`,
      ),
      raw("high bytes in header", `POST ${V} HTTP/1.1\r\nHost: h\r\nX-A: \u00ff\u00fe\r\nConnection: close\r\n${cl}\r\n${body}`),
      raw("CR in header value", `POST ${V} HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\nConnection: close\r\n${cl}\r\n${body}`),
      raw("garbage", "\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003\r\n\r\n"),
    ),
    fc
      .tuple(fc.string({ unit: "binary-ascii", maxLength: 40 }), fc.string({ unit: "binary-ascii", maxLength: 40 }))
      .map(([a, b]) =>
        raw(
          "random head",
          `POST ${V}${a.replace(/[\s]/g, "")} HTTP/1.1\r\nHost: h\r\nX-R: ${b.replace(/[\r\n]/g, "")}\r\nConnection: close\r\n${cl}\r\n${body}`,
        ),
      ),
  );
}
