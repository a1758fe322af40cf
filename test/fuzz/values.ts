/** Field-level generators: plausible values, wrong types, edge sizes and encodings. */
import fc from "fast-check";
import { Bytes, Dyn, Obj, RawText, type J } from "./json.js";

export interface Pools {
  issuedIds: string[];
  importedIds: string[];
  /** secrets known at start (issued secrets, raw keys, derived tokens) */
  secrets: string[];
  pageTokens: string[];
  /** credentials in a valid format that this server never issued */
  foreign: string[];
}

const BAD_BYTES = [
  [0xff],
  [0xfe, 0xff],
  [0xc0, 0xc1],
  [0xed, 0xa0, 0x80],
  [0x80],
  [0xe2, 0x82],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
];
const LONE = ["\ud800", "\udfff", "\ud800x", "x\udc00", "\udbff\ud800"];

/** A string with invalid UTF-8 bytes or a lone surrogate. */
export const badUtf8 = (): fc.Arbitrary<J> =>
  fc.oneof(
    fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom(...BAD_BYTES), fc.string({ maxLength: 6 })).map(([a, b, c]) => new Bytes(a, b, c) as J),
    fc.tuple(fc.constantFrom(...LONE), fc.string({ maxLength: 6 })).map(([l, s]) => s + l),
  );

export const wrongType = (): fc.Arbitrary<J> =>
  fc.oneof(
    fc.constantFrom<J>(null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 63), [], new Obj([]), [""], [null], new Obj([["a", 1]])),
    fc.constantFrom(
      ...["1e999", "-0", "1E400", "123456789012345678901234567890", "0.0000001e-400", "[[[[[[[[]]]]]]]]"].map((t) => new RawText(t) as J),
    ),
    fc.double().map((d) => d as J),
  );

/** Odd but valid strings: unicode, control characters, sizes around limits. */
export const oddString = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.string({ unit: "grapheme", maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 12 }).map((s) => s.replace(/[\ud800-\udfff]/g, "")),
    fc.constantFrom(
      "",
      " ",
      "\u0000",
      "\r\n",
      "\t",
      "\u202e",
      "\ufeff",
      "€uro",
      "😀",
      "a\u0301",
      "null",
      "undefined",
      "%00",
      "../..",
      "$" + "{jndi:x}",
      "<script>",
      "' OR 1=1 --",
    ),
    fc
      .tuple(fc.constantFrom(63, 64, 65, 127, 128, 129, 255, 256, 257, 1024, 1025, 4096, 8192, 8193, 20_000), fc.constantFrom("a", "é", "😀"))
      .map(([n, c]) => c.repeat(n)),
  );

/** A field value: usually plausible, sometimes the wrong type or badly encoded. */
export function field(plausible: fc.Arbitrary<J>): fc.Arbitrary<J> {
  return fc.oneof({ weight: 12, arbitrary: plausible }, { weight: 2, arbitrary: wrongType() }, { weight: 1, arbitrary: badUtf8() });
}

export const str = () => field(oddString());

export const enumOf = (names: string[], max: number) =>
  field(
    fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...names) },
      { weight: 2, arbitrary: fc.integer({ min: -2, max: max + 2 }) },
      { weight: 1, arbitrary: fc.constantFrom<J>("", "1", "UNKNOWN_VALUE", names[1]!.toLowerCase(), ` ${names[1]}`, 1.5, max + 1000, 2 ** 31) },
    ),
  );

export const TINY_TTLS = ["1ns", "100ns", "1us", "1µs", "0.0000000001s", "999ms", "0.5s", "1ms", "999999999ns", "0.999s"];
export const duration = () =>
  field(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("60s", "1h", "1.5h", "30d", "1y6mo", "2w3d", "3600s", "1h30m", "720h", "0s", "", "315360000s", "10y") },
      { weight: 3, arbitrary: fc.constantFrom(...TINY_TTLS) },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          "1x",
          "h",
          "--1s",
          "-1s",
          "1e3s",
          "1h-1m",
          " 1s",
          "1s ",
          "1 s",
          "NaNs",
          "Infinitys",
          "9999999999999999999h",
          "1.s",
          ".5s",
          "1..5s",
          "P1D",
          "PT1H",
          "315360001s",
          "11y",
          "1mo1mo",
          "1m1h",
          "0x10s",
          "١s",
          "1s\u0000",
          "99999999999999999999999999999999y",
        ),
      },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.nat(), fc.constantFrom("ns", "us", "µs", "ms", "s", "m", "h", "d", "w", "mo", "y", "")).map(([n, u]) => `${n}${u}`),
      },
    ),
  );

const cidr = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("10.0.0.0/8", "127.0.0.1/32", "0.0.0.0/0", "2001:db8::/32", "::1/128", "::/0", "192.168.1.7/24") },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "10.0.0.0",
      "10.0.0.0/33",
      "::/129",
      "1.2.3.4/-1",
      "1.2.3.4/ 8",
      "256.0.0.0/8",
      "01.2.3.4/8",
      "::ffff:1.2.3.4/120",
      "fe80::1%eth0/64",
      "",
      "/",
      "/8",
      "1.2.3.4/8/8",
      "١٠.0.0.0/8",
      "1.2.3/24",
      "::ffff::1/64",
      "2001:db8:::/32",
      "localhost/8",
      "1.2.3.4/08",
      "1.2.3.4/0x8",
    ),
  },
  { weight: 1, arbitrary: fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 })).map(([ip, n]) => `${ip}/${n}`) },
  { weight: 1, arbitrary: fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 130 })).map(([ip, n]) => `${ip}/${n}`) },
);
export const ipRestriction = () =>
  field(
    fc.oneof(
      { weight: 6, arbitrary: fc.array(field(cidr), { maxLength: 3 }).map((a) => new Obj([["allowed_cidrs", a]]) as J) },
      { weight: 1, arbitrary: fc.constant(new Obj([["allowed_cidrs", Array.from({ length: 65 }, () => "10.0.0.0/8")]]) as J) },
      { weight: 1, arbitrary: fc.array(cidr, { maxLength: 2 }).map((a) => new Obj([["allowedCidrs", a]]) as J) },
    ),
  );

/** A `rate_limit_policy.unit` that must be refused (issue 12, defect 10). */
export const BAD_UNITS = ["€uro", "x\r\nInjected: 1", "a\nb", 'x";q=1000000;w=1', "back\\slash", "\u0000", "tab\there", "ü", "\u007f"];
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what the check is about
export const isBadUnit = (u: unknown) => typeof u === "string" && /[\u0000-\u001f\u007f-\uffff"\\]/.test(u);

export const rateLimitPolicy = () =>
  field(
    fc
      .record(
        {
          quota: field(
            fc.oneof(
              fc.integer({ min: -1, max: 1_000_000 }),
              fc.constantFrom<J>("100", "9007199254740991", "9007199254740992", "1e3", "0x10", " 5", "-1", 0),
            ),
          ),
          window: duration(),
          unit: field(
            fc.oneof(
              { weight: 3, arbitrary: fc.constantFrom("", "requests", "content-bytes", "concurrent-requests", "a".repeat(65)) },
              { weight: 2, arbitrary: fc.constantFrom(...BAD_UNITS) },
              { weight: 1, arbitrary: oddString() },
            ),
          ),
        },
        { requiredKeys: [] },
      )
      .map((r) => new Obj(Object.entries(r) as [string, J][]) as J),
  );

export const scopes = () =>
  field(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc.array(
          field(fc.oneof({ weight: 3, arbitrary: fc.constantFrom("read", "write", "admin") }, { weight: 1, arbitrary: oddString() })),
          { maxLength: 3 },
        ) as fc.Arbitrary<J>,
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom<J>(
          Array.from({ length: 65 }, (_, i) => `s${i}`),
          [""],
          ["x".repeat(129)],
        ),
      },
    ),
  );

/** A JSON object value (metadata, custom_claims) with odd keys, deep nesting and large sizes. */
export const struct = () =>
  field(
    fc.oneof(
      { weight: 5, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), scalar, { maxKeys: 4 }).map((v) => toObj(v)) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            fc.constantFrom(
              "__proto__",
              "constructor",
              "prototype",
              "toString",
              "hasOwnProperty",
              "jti",
              "sub",
              "iss",
              "exp",
              "scp",
              "",
              "a.b",
              "$where",
            ),
            fc.jsonValue({ maxDepth: 2 }),
          )
          .map(([k, v]) => new Obj([[k, toJ(v)]]) as J),
      },
      { weight: 1, arbitrary: fc.constantFrom(2000, 3000, 10_000).map((d) => new Obj([["deep", new RawText("[".repeat(d) + "]".repeat(d))]]) as J) },
      { weight: 1, arbitrary: fc.constantFrom(4000, 4100, 10_000).map((n) => new Obj([["big", "x".repeat(n)]]) as J) },
    ),
  );

const scalar = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }));

function toJ(v: unknown): J {
  if (Array.isArray(v)) return v.map(toJ);
  if (typeof v === "object" && v !== null) return toObj(v as Record<string, unknown>);
  return v as J;
}
function toObj(v: Record<string, unknown>): Obj {
  return new Obj(Object.entries(v).map(([k, x]) => [k, toJ(x)]));
}

/** A credential: known secrets, forged and foreign ones, live-pool picks, junk. */
export function credential(p: Pools): fc.Arbitrary<J> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...p.secrets) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.nat(), fc.constantFrom("none", "none", "flip", "truncate", "append") as fc.Arbitrary<Dyn["mutate"]>)
        .map(([i, m]) => new Dyn(i, m) as J),
    },
    { weight: 2, arbitrary: fc.constantFrom(...p.foreign) },
    { weight: 2, arbitrary: oddString() },
    { weight: 1, arbitrary: wrongType() },
    { weight: 1, arbitrary: badUtf8() },
  );
}

/** A raw key to import: mostly fresh random ones (tracked as secrets once imported). */
export function rawKey(p: Pools): fc.Arbitrary<J> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.noBias(hex(32)).map((h) => `sk_fuzz_${h}`) },
    { weight: 1, arbitrary: fc.constantFrom(...p.secrets, ...p.foreign) },
    { weight: 2, arbitrary: oddString() },
    { weight: 1, arbitrary: fc.constant("k".repeat(4097)) },
    { weight: 1, arbitrary: wrongType() },
    { weight: 1, arbitrary: badUtf8() },
  );
}

/** `n` random lowercase hex digits. */
const hex = (n: number) => fc.bigInt({ min: 0n, max: 16n ** BigInt(n) - 1n }).map((b) => b.toString(16).padStart(n, "0"));

export const FRESH_RAW_KEY = /^sk_fuzz_[0-9a-f]{32}$/;

/** A key id path segment of every shape. */
export function keyId(p: Pools, kind: "issued" | "imported" | "any"): fc.Arbitrary<string> {
  const known = kind === "issued" ? p.issuedIds : kind === "imported" ? p.importedIds : [...p.issuedIds, ...p.importedIds];
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...known) },
    { weight: 1, arbitrary: fc.constantFrom(...known).map((k) => k.toUpperCase()) },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.uuid().map(String),
        hex(64),
        hex(63),
        hex(64).map((h) => h.toUpperCase()),
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "",
        ".",
        "..",
        "%2e%2e",
        "%2E%2E",
        ".%2e",
        "%2e",
        "a%2Fb",
        "%2f",
        "%5C",
        "%00",
        "%zz",
        "%",
        "%ff%fe",
        "%ed%a0%80",
        "00000000-0000-0000-0000-000000000000",
        "x".repeat(5000),
        "%3Arotate",
        "a:b",
        ":",
        "%20",
        "+",
        "~",
        "null",
        "undefined",
        "__proto__",
        "constructor",
        "%E2%82%AC",
        "*",
      ),
    },
    { weight: 1, arbitrary: fc.webPath().map((s) => encodeURIComponent(s)) },
  );
}
