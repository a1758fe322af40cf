/** Query strings, path mutations, header sets and methods for the fuzzed requests. */
import fc from "fast-check";
import { oddString, type Pools } from "./values.js";

const enc = encodeURIComponent;
export function listQuery(p: Pools): fc.Arbitrary<string> {
  const size = fc.oneof(
    fc.integer({ min: -5, max: 1200 }).map(String),
    fc.constantFrom("", "abc", "1e3", "1.5", "9999999999999999999", "-0", "0x10", " 5", "%00", "NaN"),
  );
  const filter = fc.oneof(
    fc.constantFrom(
      'actor_id="fuzz-actor"',
      "status=KEY_STATUS_ACTIVE",
      'status="KEY_STATUS_REVOKED"',
      'actor_id = "a" AND status = KEY_STATUS_EXPIRED',
      "",
      'actor_id="x" OR status=KEY_STATUS_ACTIVE',
      "NOT status=KEY_STATUS_ACTIVE",
      "(status=KEY_STATUS_ACTIVE)",
      'actor_id="unterminated',
      'actor_id="a\\"b\\\\"',
      "status=KEY_STATUS_UNSPECIFIED",
      'name="x"',
      'actor_id="a" and status=KEY_STATUS_ACTIVE',
      'actor_id="a" AND actor_id="b"',
      "status",
      "=",
      '""',
      "status!=KEY_STATUS_ACTIVE",
    ),
    oddString().map((s) => `actor_id="${s}"`),
    oddString(),
  );
  const token = fc.oneof(
    fc.constantFrom(...p.pageTokens),
    fc.constantFrom(...p.pageTokens).map((t) => t.slice(0, -2) + (t.endsWith("AA") ? "BB" : "AA")),
    fc.base64String({ maxLength: 120 }),
    oddString(),
  );
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
export function maskQuery(): fc.Arbitrary<string> {
  const path = fc.oneof(
    fc.constantFrom("name", "scopes", "metadata", "rate_limit_policy", "ip_restriction", "rateLimitPolicy", "ipRestriction", "name,scopes"),
    fc.constantFrom(
      "actor_id",
      "expire_time",
      "rate_limit_policy.quota",
      "status",
      "visibility",
      "",
      ",",
      "name,,scopes",
      "*",
      "NAME",
      "__proto__",
      "key_id",
    ),
    oddString(),
  );
  return fc
    .array(fc.tuple(fc.constantFrom("update_mask", "updateMask"), path), { maxLength: 3 })
    .map((a) => (a.length ? `?${a.map(([k, v]) => `${k}=${enc(v).slice(0, 3000)}`).join("&")}` : ""));
}

const DOTS = ["..", ".", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "%2e", "%2E"];
/** Path changes that must never reach another route: dot segments, encoded slashes, backslashes. */
export function pathMutation(all: string[]): fc.Arbitrary<{ tag: string; apply: (path: string) => string }> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.constant({ tag: "", apply: (x: string) => x }) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...DOTS), fc.constantFrom(...all))
        .map(([d, other]) => ({ tag: "dot-segment", apply: (x: string) => `${x}/${d}${other}` })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...DOTS), fc.nat()).map(([d, n]) => ({ tag: "dot-segment", apply: (x: string) => insertSegment(x, n, d) })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom("%2F", "%2f", "%5C", "%5c", "\\"), fc.nat())
        .map(([s, n]) => ({ tag: s === "\\" || /5c/i.test(s) ? "backslash" : "encoded-slash", apply: (x: string) => replaceSlash(x, n, s) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom("/", "//", "?", "#frag", ";x=1", "%20", "%00", ":", "::verify", ":Verify", "%3Averify", "%3A", ":revoke:revoke")
        .map((s) => ({ tag: "suffix", apply: (x: string) => x + s })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom<(x: string) => string>(
          (x) => `/${x}`,
          (x) => `http://127.0.0.1${x}`,
          () => "*",
          (x) => x.slice(1),
          (x) => x.replace("/v2alpha1", "/V2ALPHA1"),
        )
        .map((apply) => ({ tag: "prefix", apply })),
    },
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
export function headers(p: Pools): fc.Arbitrary<[string, string][]> {
  const secretOrJunk = fc.oneof(fc.constantFrom(...p.secrets, ...p.foreign), oddString().map(latin1));
  const one = fc.oneof(
    fc
      .constantFrom(
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin1",
        "application/json; charset=utf-16",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
        "application/merge-patch+json",
        "*/*",
      )
      .map((v) => ["Content-Type", v] as [string, string]),
    secretOrJunk.map((v) => ["Authorization", `Bearer ${v}`] as [string, string]),
    fc.constantFrom(...p.secrets).map((v) => ["Authorization", `Basic ${Buffer.from(`u:${v}`).toString("base64")}`] as [string, string]),
    secretOrJunk.map((v) => ["X-API-Key", v] as [string, string]),
    fc
      .oneof(
        fc.uuid().map(String),
        fc.constantFrom("", "a".repeat(128), "a".repeat(129), "with space", "\u00e9t\u00e9", "id\u007f"),
        fc.string({ maxLength: 20 }),
      )
      .map((v) => ["X-Request-ID", latin1(v)] as [string, string]),
    fc.constantFrom("no-cache", "no-store", "NO-CACHE, no-store", "max-age=0", "", ",,,").map((v) => ["Cache-Control", v] as [string, string]),
    fc.constantFrom("no-cache", "x").map((v) => ["Pragma", v] as [string, string]),
    fc
      .tuple(
        fc.constantFrom("X-Forwarded-For", "X-Real-IP", "CF-Connecting-IP", "True-Client-IP"),
        fc.oneof(fc.ipV4(), fc.ipV6(), oddString().map(latin1), fc.constantFrom("1.2.3.4, 5.6.7.8", "unknown", "::ffff:10.0.0.1")),
      )
      .map(([k, v]) => [k, v] as [string, string]),
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

export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "SEARCH", "FOO", "get", "QUERY"];

/** Query strings of GET …/apiKeys/{key_id}/usage (docs/observability.md#usage-history): good, odd and hostile. */
export function usageQuery(): fc.Arbitrary<string> {
  const time = fc.oneof(
    fc.date({ min: new Date(Date.UTC(1970, 0, 1)), max: new Date(Date.UTC(2100, 0, 1)), noInvalidDate: true }).map((d) => d.toISOString()),
    fc.constantFrom("", "now", "2026-13-01T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-06-01", "2026-06-01T10:00:00+25:00", "1e12"),
    oddString(),
  );
  const param = fc.oneof(
    fc.constantFrom("hour", "day", "week", "", "HOUR", "Day", "%00").map((v) => `granularity=${v}`),
    time.map((v) => `start_time=${enc(v)}`),
    time.map((v) => `end_time=${enc(v)}`),
    fc.constantFrom("granularity=hour&granularity=day", "start_time", "end_time=%zz", "=x"),
  );
  return fc.array(param, { maxLength: 4 }).map((a) => (a.length ? `?${a.map((x) => x.slice(0, 3000)).join("&")}` : ""));
}
