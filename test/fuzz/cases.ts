/**
 * Whole requests: every admin and public route with generated bodies, paths, query strings,
 * headers and methods, plus raw byte requests node:http would never send.
 */
import fc from "fast-check";
import { Dyn, Obj, RawText, serialize, toBuffer, traits, type J, type Resolve } from "./json.js";
import type { Expectation } from "./oracle.js";
import type { WireRequest } from "./wire.js";
import {
  credential, duration, enumOf, field, ipRestriction, keyId, rateLimitPolicy, rawKey, scopes, str, struct, oddString, TINY_TTLS, BAD_UNITS, badUtf8, isBadUnit, type Pools,
} from "./values.js";

const A = "/v2alpha1/admin";
const VIS = ["KEY_VISIBILITY_UNSPECIFIED", "KEY_VISIBILITY_SECRET", "KEY_VISIBILITY_PUBLIC"];
const REASONS = ["REVOCATION_REASON_UNSPECIFIED", "REVOCATION_REASON_KEY_COMPROMISE", "REVOCATION_REASON_AFFILIATION_CHANGED", "REVOCATION_REASON_SUPERSEDED", "REVOCATION_REASON_PRIVILEGE_WITHDRAWN"];
const ALGS = ["TOKEN_ALGORITHM_UNSPECIFIED", "TOKEN_ALGORITHM_JWT", "TOKEN_ALGORITHM_MACAROON"];

export interface FuzzCase {
  /** route template, e.g. "POST /v2alpha1/admin/issuedApiKeys/{key_id}:rotate" */
  route: string;
  method: string;
  path: string;
  headers: [string, string][];
  body?: { value: J; mutation: BodyMutation };
  /** raw bytes for the request (built with the port) */
  raw?: string;
  tags: string[];
}
type BodyMutation = "none" | "truncate" | "garbage" | "bom" | "utf16" | "empty" | "scalar" | "huge";

type Fields = Record<string, fc.Arbitrary<J>>;
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** An object with a random subset of `fields`, in either spelling (or both), plus odd extra keys. */
function objectOf(fields: Fields, mostlyPresent: string[] = []): fc.Arbitrary<Obj> {
  const names = Object.keys(fields);
  const spelling = fc.constantFrom("snake", "snake", "snake", "snake", "camel", "camel", "both");
  const entryArbs = names.map((n) =>
    fc.option(fc.tuple(spelling, fields[n]!), { freq: mostlyPresent.includes(n) ? 10 : 1, nil: null }).map((x): [string, J][] => {
      if (!x) return [];
      const [spell, v] = x;
      const c = camel(n);
      if (spell === "camel") return [[c, v]];
      if (spell === "both" && c !== n) return [[n, v], [c, v]];
      return [[n, v]];
    }),
  );
  const smuggled = names.slice(0, 2);
  const extra = fc.oneof(
    { weight: 20, arbitrary: fc.constant([] as [string, J][]) },
    { weight: 2, arbitrary: fc.tuple(oddString(), field(oddString())).map(([k, v]) => [[k, v]] as [string, J][]) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom("__proto__", "constructor", "prototype"), fc.tuple(...smuggled.map((n) => fields[n]!))).map(([k, vs]) => [[k, new Obj(vs.map((v, i) => [smuggled[i]!, v]))]] as [string, J][]) },
    { weight: 1, arbitrary: fc.constantFrom<[string, J][]>([["__proto__", null]], [["__proto__", "x"]], [["unknown", new RawText("[".repeat(10_000) + "]".repeat(10_000))]]) },
  );
  return fc.tuple(fc.tuple(...entryArbs), extra, fc.boolean()).map(([parts, ex, exFirst]) => {
    const entries = parts.flat();
    return new Obj(exFirst ? [...ex, ...entries] : [...entries, ...ex]);
  });
}

function bodyFields(p: Pools) {
  const common: Fields = { name: str(), scopes: scopes(), metadata: struct(), rate_limit_policy: rateLimitPolicy(), ip_restriction: ipRestriction() };
  const issue: Fields = { ...common, actor_id: str(), ttl: duration(), request_id: str(), visibility: enumOf(VIS, 2) };
  const importF: Fields = { raw_key: rawKey(p), ...issue };
  const revoke: Fields = { reason: enumOf(REASONS, 4), description: str() };
  return {
    issue,
    import: importF,
    update: { ...common, key_id: str(), actor_id: str(), status: str(), visibility: enumOf(VIS, 2), expire_time: str() } as Fields,
    rotate: { ...common, visibility: enumOf(VIS, 2) } as Fields,
    revoke,
    verify: { credential: credential(p) } as Fields,
    derive: { credential: credential(p), algorithm: enumOf(ALGS, 2), ttl: duration(), scopes: scopes(), custom_claims: struct() } as Fields,
    selfRevoke: { credential: credential(p), reason: enumOf(REASONS, 4) } as Fields,
  };
}

interface RouteSpec {
  method: string;
  template: string;
  path: fc.Arbitrary<string>;
  body?: fc.Arbitrary<J>;
  query?: fc.Arbitrary<string>;
}

function routes(p: Pools): RouteSpec[] {
  const f = bodyFields(p);
  const o = (fields: Fields, must: string[] = []) => objectOf(fields, must) as fc.Arbitrary<J>;
  const id = (kind: "issued" | "imported" | "any", tmpl: (k: string) => string) => keyId(p, kind).map(tmpl);
  const wrapped = (name: string) => fc.oneof(o(f.update), o(f.update).map((u) => new Obj([[name, u]]) as J), o(f.update).map((u) => new Obj([[camel(name), u], ["name", "ignored"]]) as J));
  const batch = (item: fc.Arbitrary<J>, max: number) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.array(item, { maxLength: 6 }).map((a) => new Obj([["requests", a]]) as J) },
      { weight: 1, arbitrary: fc.constant(new Obj([["requests", Array.from({ length: max + 1 }, () => new Obj([]))]]) as J) },
      { weight: 1, arbitrary: field(fc.constant(new Obj([]) as J)).map((v) => new Obj([["requests", v]]) as J) },
    );
  return [
    { method: "POST", template: `${A}/issuedApiKeys`, path: fc.constant(`${A}/issuedApiKeys`), body: o(f.issue) },
    { method: "GET", template: `${A}/issuedApiKeys`, path: fc.constant(`${A}/issuedApiKeys`), query: listQuery(p) },
    { method: "GET", template: `${A}/issuedApiKeys/{key_id}`, path: id("issued", (k) => `${A}/issuedApiKeys/${k}`) },
    { method: "PATCH", template: `${A}/issuedApiKeys/{key_id}`, path: id("issued", (k) => `${A}/issuedApiKeys/${k}`), body: wrapped("issued_api_key"), query: maskQuery() },
    { method: "POST", template: `${A}/issuedApiKeys/{key_id}:rotate`, path: id("issued", (k) => `${A}/issuedApiKeys/${k}:rotate`), body: o(f.rotate) },
    { method: "POST", template: `${A}/issuedApiKeys/{key_id}:revoke`, path: id("issued", (k) => `${A}/issuedApiKeys/${k}:revoke`), body: o(f.revoke) },
    { method: "POST", template: `${A}/importedApiKeys`, path: fc.constant(`${A}/importedApiKeys`), body: o(f.import, ["raw_key", "name", "actor_id"]) },
    { method: "POST", template: `${A}/importedApiKeys:batchCreate`, path: fc.constant(`${A}/importedApiKeys:batchCreate`), body: batch(o(f.import, ["raw_key", "name", "actor_id"]), 1000) },
    { method: "GET", template: `${A}/importedApiKeys`, path: fc.constant(`${A}/importedApiKeys`), query: listQuery(p) },
    { method: "GET", template: `${A}/importedApiKeys/{key_id}`, path: id("imported", (k) => `${A}/importedApiKeys/${k}`) },
    { method: "PATCH", template: `${A}/importedApiKeys/{key_id}`, path: id("imported", (k) => `${A}/importedApiKeys/${k}`), body: wrapped("imported_api_key"), query: maskQuery() },
    { method: "POST", template: `${A}/importedApiKeys/{key_id}:revoke`, path: id("imported", (k) => `${A}/importedApiKeys/${k}:revoke`), body: o(f.revoke) },
    { method: "DELETE", template: `${A}/importedApiKeys/{key_id}`, path: id("imported", (k) => `${A}/importedApiKeys/${k}`) },
    { method: "POST", template: `${A}/apiKeys:verify`, path: fc.constant(`${A}/apiKeys:verify`), body: o(f.verify, ["credential"]) },
    { method: "POST", template: `${A}/apiKeys:batchVerify`, path: fc.constant(`${A}/apiKeys:batchVerify`), body: batch(o(f.verify, ["credential"]), 100) },
    { method: "POST", template: `${A}/apiKeys:derive`, path: fc.constant(`${A}/apiKeys:derive`), body: o(f.derive, ["credential"]) },
    { method: "POST", template: `${A}/apiKeys/{key_id}:revoke`, path: id("any", (k) => `${A}/apiKeys/${k}:revoke`), body: o(f.revoke) },
    { method: "POST", template: "/v2alpha1/apiKeys:selfRevoke", path: fc.constant("/v2alpha1/apiKeys:selfRevoke"), body: o(f.selfRevoke, ["credential"]) },
    { method: "GET", template: "/v2alpha1/derivedKeys/jwks.json", path: fc.constant("/v2alpha1/derivedKeys/jwks.json") },
    { method: "GET", template: "/gateway/verify", path: fc.constant("/gateway/verify") },
    { method: "GET", template: "/health/alive", path: fc.constantFrom("/health/alive", "/health/ready", "/version", "/openapi.json", "/metrics", "/") },
  ];
}

const enc = encodeURIComponent;
function listQuery(p: Pools): fc.Arbitrary<string> {
  const size = fc.oneof(fc.integer({ min: -5, max: 1200 }).map(String), fc.constantFrom("", "abc", "1e3", "1.5", "9999999999999999999", "-0", "0x10", " 5", "%00", "NaN"));
  const filter = fc.oneof(
    fc.constantFrom(
      'actor_id="fuzz-actor"', "status=KEY_STATUS_ACTIVE", 'status="KEY_STATUS_REVOKED"', 'actor_id = "a" AND status = KEY_STATUS_EXPIRED', "",
      'actor_id="x" OR status=KEY_STATUS_ACTIVE', "NOT status=KEY_STATUS_ACTIVE", "(status=KEY_STATUS_ACTIVE)", 'actor_id="unterminated', 'actor_id="a\\"b\\\\"',
      "status=KEY_STATUS_UNSPECIFIED", "name=\"x\"", 'actor_id="a" and status=KEY_STATUS_ACTIVE', 'actor_id="a" AND actor_id="b"', "status", "=", '""', "status!=KEY_STATUS_ACTIVE",
    ),
    oddString().map((s) => `actor_id="${s}"`),
    oddString(),
  );
  const token = fc.oneof(fc.constantFrom(...p.pageTokens), fc.constantFrom(...p.pageTokens).map((t) => t.slice(0, -2) + (t.endsWith("AA") ? "BB" : "AA")), fc.base64String({ maxLength: 120 }), oddString());
  const param = fc.oneof(
    size.map((v) => `page_size=${enc(v)}`),
    size.map((v) => `pageSize=${enc(v)}`),
    token.map((v) => `page_token=${enc(v)}`),
    token.map((v) => `pageToken=${enc(v)}`),
    filter.map((v) => `filter=${enc(v)}`),
    fc.constantFrom("filter=%zz", "page_size", "page_size=&page_size=5", "a=%00", "filter=%E2%82", "=x", "&&&", "page_size=5&pageSize=6", "%ff=%fe"),
  );
  return fc.array(param, { maxLength: 4 }).map((a) => (a.length ? `?${a.map((x) => x.slice(0, 3000)).join("&")}` : ""));
}
function maskQuery(): fc.Arbitrary<string> {
  const path = fc.oneof(
    fc.constantFrom("name", "scopes", "metadata", "rate_limit_policy", "ip_restriction", "rateLimitPolicy", "ipRestriction", "name,scopes"),
    fc.constantFrom("actor_id", "expire_time", "rate_limit_policy.quota", "status", "visibility", "", ",", "name,,scopes", "*", "NAME", "__proto__", "key_id"),
    oddString(),
  );
  return fc.array(fc.tuple(fc.constantFrom("update_mask", "updateMask"), path), { maxLength: 3 }).map((a) => (a.length ? `?${a.map(([k, v]) => `${k}=${enc(v).slice(0, 3000)}`).join("&")}` : ""));
}

const DOTS = ["..", ".", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%2e", "%2E"];
/** Path changes that must never reach another route: dot segments, encoded slashes, backslashes. */
function pathMutation(all: string[]): fc.Arbitrary<{ tag: string; apply: (path: string) => string }> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.constant({ tag: "", apply: (x: string) => x }) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...DOTS), fc.constantFrom(...all)).map(([d, other]) => ({ tag: "dot-segment", apply: (x: string) => `${x}/${d}${other}` })) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...DOTS), fc.nat()).map(([d, n]) => ({ tag: "dot-segment", apply: (x: string) => insertSegment(x, n, d) })) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom("%2F", "%2f", "%5C", "%5c", "\\"), fc.nat()).map(([s, n]) => ({ tag: s === "\\" || /5c/i.test(s) ? "backslash" : "encoded-slash", apply: (x: string) => replaceSlash(x, n, s) })) },
    { weight: 1, arbitrary: fc.constantFrom("/", "//", "?", "#frag", ";x=1", "%20", "%00", ":", "::verify", ":Verify", "%3Averify", "%3A", ":revoke:revoke").map((s) => ({ tag: "suffix", apply: (x: string) => x + s })) },
    { weight: 1, arbitrary: fc.constantFrom<(x: string) => string>((x) => `/${x}`, (x) => `http://127.0.0.1${x}`, () => "*", (x) => x.slice(1), (x) => x.replace("/v2alpha1", "/V2ALPHA1")).map((apply) => ({ tag: "prefix", apply })) },
  );
}
function insertSegment(path: string, n: number, seg: string): string {
  const parts = path.split("/");
  const i = 1 + (n % Math.max(1, parts.length - 1));
  parts.splice(i, 0, seg);
  return parts.join("/");
}
function replaceSlash(path: string, n: number, s: string): string {
  const idx = [...path.matchAll(/\//g)].map((m) => m.index!).filter((i) => i > 0);
  if (!idx.length) return path + s;
  const i = idx[n % idx.length]!;
  return path.slice(0, i) + s + path.slice(i + 1);
}

/** Header sets: content types, odd values, credentials where the gateway reads them. */
function headers(p: Pools): fc.Arbitrary<[string, string][]> {
  const secretOrJunk = fc.oneof(fc.constantFrom(...p.secrets, ...p.foreign), oddString().map(latin1));
  const one = fc.oneof(
    fc.constantFrom("application/json", "application/json; charset=utf-8", "application/json; charset=latin1", "application/json; charset=utf-16", "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "", "application/merge-patch+json", "*/*").map((v) => ["Content-Type", v] as [string, string]),
    secretOrJunk.map((v) => ["Authorization", `Bearer ${v}`] as [string, string]),
    fc.constantFrom(...p.secrets).map((v) => ["Authorization", `Basic ${Buffer.from(`u:${v}`).toString("base64")}`] as [string, string]),
    secretOrJunk.map((v) => ["X-API-Key", v] as [string, string]),
    fc.oneof(fc.uuid().map(String), fc.constantFrom("", "a".repeat(128), "a".repeat(129), "with space", "\u00e9t\u00e9", "id\u007f"), fc.string({ maxLength: 20 })).map((v) => ["X-Request-ID", latin1(v)] as [string, string]),
    fc.constantFrom("no-cache", "no-store", "NO-CACHE, no-store", "max-age=0", "", ",,,").map((v) => ["Cache-Control", v] as [string, string]),
    fc.constantFrom("no-cache", "x").map((v) => ["Pragma", v] as [string, string]),
    fc.tuple(fc.constantFrom("X-Forwarded-For", "X-Real-IP", "CF-Connecting-IP", "True-Client-IP"), fc.oneof(fc.ipV4(), fc.ipV6(), oddString().map(latin1), fc.constantFrom("1.2.3.4, 5.6.7.8", "unknown", "::ffff:10.0.0.1"))).map(([k, v]) => [k, v] as [string, string]),
    fc.constantFrom("gzip", "br", "deflate", "identity", "bogus", "gzip, gzip").map((v) => ["Content-Encoding", v] as [string, string]),
    fc.constantFrom("100-continue", "foo").map((v) => ["Expect", v] as [string, string]),
    fc.constantFrom("https://evil.example", "null", "").map((v) => ["Origin", v] as [string, string]),
    fc.constantFrom("websocket", "h2c").map((v) => ["Upgrade", v] as [string, string]),
    fc.constantFrom("close", "keep-alive").map((v) => ["Connection", v] as [string, string]),
    fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/), oddString().map(latin1)).map(([k, v]) => [k, v] as [string, string]),
  );
  return fc.array(one, { maxLength: 3 });
}
/** Node's client refuses header values outside latin-1; keep the odd ones it can send (and under 16 KB in all). */
const latin1 = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?").slice(0, 2048);

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "SEARCH", "FOO", "get", "QUERY"];

/** A request to one of the routes, possibly with another method, a mutated path, query and headers. */
export function httpCase(p: Pools): fc.Arbitrary<FuzzCase> {
  const specs = routes(p);
  const plainPaths = specs.map((s) => s.template.replace(/\{key_id\}/, p.issuedIds[0]!).slice(1));
  const hdrs = headers(p);
  const mutation = pathMutation(plainPaths);
  const bodyMutation = fc.oneof(
    { weight: 400, arbitrary: fc.constant<BodyMutation>("none") },
    { weight: 60, arbitrary: fc.constantFrom<BodyMutation>("truncate", "garbage", "bom", "utf16", "empty", "scalar") },
    { weight: 1, arbitrary: fc.constant<BodyMutation>("huge") },
  );
  const lq = listQuery(p);
  return fc.oneof(
    ...specs.map((spec) =>
      fc
        .record({
          method: fc.oneof({ weight: 9, arbitrary: fc.constant(spec.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
          path: spec.path,
          mutation,
          query: spec.query ? fc.oneof({ weight: 3, arbitrary: spec.query }, { weight: 1, arbitrary: fc.constant("") }) : fc.oneof({ weight: 9, arbitrary: fc.constant("") }, { weight: 1, arbitrary: lq }),
          headers: hdrs,
          body: spec.body ? spec.body : fc.option(fc.constant(new Obj([["x", 1]]) as J), { freq: 5 }),
          bodyMutation,
        })
        .map(({ method, path, mutation, query, headers, body, bodyMutation }): FuzzCase => {
          const tags = mutation.tag ? [mutation.tag] : [];
          if (method !== spec.method) tags.push("method");
          return {
            route: `${spec.method} ${spec.template}`,
            method,
            path: mutation.apply(path) + query,
            headers,
            body: body === null || body === undefined ? undefined : { value: body, mutation: bodyMutation },
            tags,
          };
        }),
    ),
  );
}

/**
 * A well-formed request with exactly one defect from issue 12 (tiny ttl, bad rate-limit unit,
 * `__proto__`, lone surrogate, invalid UTF-8), so nothing else in the body can explain a 400.
 */
export function targetedCase(p: Pools): fc.Arbitrary<FuzzCase> {
  const fresh = hexKey();
  const base = fc.oneof(
    fc.constant({ route: `POST ${A}/issuedApiKeys`, path: `${A}/issuedApiKeys`, body: [["name", "fz"], ["actor_id", "fz-actor"], ["scopes", ["read"]]] as [string, J][] }),
    fresh.map((raw) => ({ route: `POST ${A}/importedApiKeys`, path: `${A}/importedApiKeys`, body: [["raw_key", raw], ["name", "fz"], ["actor_id", "fz-actor"]] as [string, J][] })),
    fc.nat().map((i) => ({ route: `POST ${A}/apiKeys:derive`, path: `${A}/apiKeys:derive`, body: [["credential", new Dyn(i)]] as [string, J][] })),
    fc.nat().map((i) => ({ route: `POST ${A}/apiKeys:verify`, path: `${A}/apiKeys:verify`, body: [["credential", new Dyn(i)]] as [string, J][] })),
    fc.constantFrom(...p.issuedIds).map((id) => ({ route: `PATCH ${A}/issuedApiKeys/{key_id}`, path: `${A}/issuedApiKeys/${id}`, body: [["name", "fz"]] as [string, J][] })),
    fc.constantFrom(...p.issuedIds).map((id) => ({ route: `POST ${A}/issuedApiKeys/{key_id}:rotate`, path: `${A}/issuedApiKeys/${id}:rotate`, body: [] as [string, J][] })),
  );
  const defect = fc.oneof(
    fc.constantFrom(...TINY_TTLS).map((t) => ({ only: /issuedApiKeys$|importedApiKeys$|:derive$/, entry: ["ttl", t] as [string, J] })),
    fc.constantFrom(...BAD_UNITS).map((u) => ({ only: /issuedApiKeys|importedApiKeys$/, entry: ["rate_limit_policy", new Obj([["quota", "10"], ["window", "60s"], ["unit", u]])] as [string, J] })),
    fc.constantFrom<[string, J]>(
      ["__proto__", new Obj([["actor_id", "smuggled"], ["scopes", ["admin"]]])],
      ["__proto__", new Obj([["credential", "x"]])],
    ).map((entry) => ({ only: /./, entry })),
    fc.constant({ only: /issuedApiKeys|importedApiKeys$/, entry: ["metadata", new Obj([["__proto__", new Obj([["admin", true]])]])] as [string, J] }),
    fc.constant({ only: /:derive$/, entry: ["custom_claims", new Obj([["__proto__", new Obj([["admin", true]])]])] as [string, J] }),
    badUtf8().map((v) => ({ only: /./, entry: ["name", v] as [string, J] })),
  );
  return fc.tuple(base, defect).map(([b, d]): FuzzCase => {
    const entries: [string, J][] = d.only.test(b.route) ? [...b.body, d.entry] : b.body;
    return { route: b.route, method: b.route.split(" ")[0]!, path: b.path, headers: [], body: { value: new Obj(entries), mutation: "none" }, tags: [] };
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
      raw("Content-Length and chunked", `POST ${V} HTTP/1.1\r\nHost: h\r\n${cl}Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
      raw("bad chunk size", `POST ${V} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`),
      raw("chunked", `POST ${V} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
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
      raw("Upgrade websocket", `GET /health/alive HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
      raw("Upgrade h2c", `GET /health/alive HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`),
      raw("high bytes in header", `POST ${V} HTTP/1.1\r\nHost: h\r\nX-A: \u00ff\u00fe\r\nConnection: close\r\n${cl}\r\n${body}`),
      raw("CR in header value", `POST ${V} HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\nConnection: close\r\n${cl}\r\n${body}`),
      raw("garbage", "\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003\r\n\r\n"),
    ),
    fc.tuple(fc.string({ unit: "binary-ascii", maxLength: 40 }), fc.string({ unit: "binary-ascii", maxLength: 40 })).map(([a, b]) =>
      raw("random head", `POST ${V}${a.replace(/[\s]/g, "")} HTTP/1.1\r\nHost: h\r\nX-R: ${b.replace(/[\r\n]/g, "")}\r\nConnection: close\r\n${cl}\r\n${body}`),
    ),
  );
}

/** The request as bytes/headers to send; secrets picked from the live pool are filled in here. */
export function materialize(c: FuzzCase, resolve: Resolve): WireRequest {
  if (c.raw !== undefined) return { method: c.raw.startsWith("HEAD") ? "HEAD" : "RAW", path: c.path, headers: [], raw: Buffer.from(c.raw, "latin1") };
  let body: Buffer | undefined;
  if (c.body) {
    const text = toBuffer(serialize(c.body.value, resolve));
    switch (c.body.mutation) {
      case "none": body = text; break;
      case "truncate": body = text.subarray(0, Math.max(1, Math.floor(text.length / 2))); break;
      case "garbage": body = Buffer.concat([text, Buffer.from("}{,]")]); break;
      case "bom": body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]); break;
      case "utf16": body = Buffer.from(text.toString("utf8"), "utf16le"); break;
      case "empty": body = Buffer.alloc(0); break;
      case "scalar": body = Buffer.from(['[]', '"str"', "1", "null", "true", "[{}]"][text.length % 6]!); break;
      case "huge": body = Buffer.concat([Buffer.from('{"pad":"'), Buffer.alloc(4 * 1024 * 1024 + 16, 0x61), Buffer.from('"}')]); break;
    }
  }
  const headers = c.headers.filter(([k]) => !/^(content-length|transfer-encoding|host)$/i.test(k));
  return { method: c.method, path: c.path, headers, body };
}

/** What this case is owed beyond the common properties (issue 12's defects, stated as the fix). */
export function expectations(c: FuzzCase): Expectation[] {
  const out: Expectation[] = [];
  const pathOnly = c.path.split("?")[0]!;
  // Node answers these itself before any route (417; 413 comes before routing): no route-level expectation
  if (c.headers.some(([k, v]) => /^expect$/i.test(k) && !/^100-continue$/i.test(v)) || c.body?.mutation === "huge") return out;
  if (c.tags.includes("dot-segment") || c.tags.includes("encoded-slash") || c.tags.includes("backslash")) {
    if (hasDotOrSlash(pathOnly)) out.push({ status: [400, 404], why: `${c.tags.find((t) => /dot|slash/.test(t))} → 400/404, never another route` });
  }
  if (c.raw !== undefined || c.tags.length || !c.body || c.body.mutation !== "none") return out;
  if (c.headers.some(([k]) => /^(expect|content-encoding|upgrade|connection)$/i.test(k))) return out;
  const [method, template] = c.route.split(" ") as [string, string];
  if (method !== c.method) return out;
  const keyed = template.includes("{key_id}");
  const v = c.body.value;
  if (!(v instanceof Obj)) return out;
  const refuse = (why: string) => out.push(keyed ? { notSuccess: true, why } : { status: [400], why });
  if (traits(v).badUtf8) refuse("invalid UTF-8 / lone surrogate → 400");
  const holder = v.get("issued_api_key") ?? v.get("issuedApiKey") ?? v.get("imported_api_key") ?? v.get("importedApiKey");
  const res = holder instanceof Obj ? holder : v;
  if (v.has("__proto__")) refuse("__proto__ key → 400");
  const structs = template.endsWith(":derive") ? ["custom_claims", "customClaims"] : /issuedApiKeys(\/\{key_id\}(:rotate)?)?$|importedApiKeys(\/\{key_id\})?$/.test(template) ? ["metadata"] : [];
  for (const name of structs) {
    const m = res.get(name);
    if (m instanceof Obj && m.has("__proto__")) refuse(`__proto__ inside ${name} → 400`);
  }
  const ttl = v.get("ttl");
  if (typeof ttl === "string" && TINY_TTLS.includes(ttl) && /issuedApiKeys$|importedApiKeys$|:derive$/.test(template))
    out.push(template.endsWith(":derive") ? { notSuccess: true, why: "ttl below 1s → no token" } : { status: [400], why: "ttl below 1s → 400" });
  for (const key of ["rate_limit_policy", "rateLimitPolicy"]) {
    const pol = res.get(key);
    if (pol instanceof Obj && isBadUnit(pol.get("unit")) && !template.includes(":batchCreate")) refuse("rate_limit_policy.unit outside visible ASCII or with quote/backslash → 400");
  }
  const deep = v.entries.some(([, x]) => x instanceof RawText && x.text.startsWith("[[[[")); // over the nesting limit: 400
  if (template.endsWith("apiKeys:verify") && out.length === 0 && !deep && !v.has("constructor") && !v.has("prototype")) {
    const cred = v.get("credential");
    const names = v.entries.map(([k]) => k);
    const credOk = (typeof cred === "string" && cred.length >= 1 && cred.length <= 8192) || cred instanceof Dyn;
    if (credOk && new Set(names).size === names.length) out.push({ status: [200], why: "verify of a well-formed request → 200" });
  }
  return out;
}

function hasDotOrSlash(path: string): boolean {
  if (path.includes("\\")) return true;
  return path.split("/").some((seg) => {
    let s: string;
    try {
      s = decodeURIComponent(seg);
    } catch {
      return false;
    }
    return s === "." || s === ".." || s.includes("/") || s.includes("\\");
  });
}
