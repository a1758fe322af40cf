import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { base58Decode, base58Encode } from "./base58.js";
import { createIssuedKeyChecker, mintIssuedKey, parseIssuedKey, type IssuedKeyCheckerOptions } from "./issued-key.js";

const SECRET = "0123456789abcdef0123456789abcdef";
const OTHER_SECRET = "fedcba9876543210fedcba9876543210";
const TS = 1767225600; // 2026-01-01T00:00:00Z
const KEY_ID = "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f";
const IDENTIFIER = "Qixkm4LLsreXThDin1PMp9sWK4x6LUoqCmkeLVEqBFS2B8YTHGnSV2U6GHuMLoWd";
const CHECKSUM = "9EqeTSRe7bcCsfm5SdpUkfJCio1NU9TaVQFWXiumh6DZ";
const FULL_KEY = `ory_ak_v1_${IDENTIFIER}_${CHECKSUM}`;
const HOUR = 3_600_000;
const MAX_TTL = 8760 * HOUR;
const SKEW = 5 * 60_000;

function checker(overrides: Partial<IssuedKeyCheckerOptions> = {}): ReturnType<typeof createIssuedKeyChecker> {
  return createIssuedKeyChecker({
    prefixes: ["ory_ak"],
    secrets: () => [SECRET],
    maxTtlMs: MAX_TTL,
    clockSkewMs: SKEW,
    now: () => Date.parse("2026-06-01T00:00:00Z"),
    ...overrides,
  });
}

function parsed(credential: string): NonNullable<ReturnType<typeof parseIssuedKey>> {
  const p = parseIssuedKey(credential);
  if (!p) throw new Error(`expected ${credential} to parse`);
  return p;
}

function withLastCharChanged(s: string): string {
  const last = s.at(-1);
  return s.slice(0, -1) + (last === "Z" ? "Y" : "Z");
}

describe("mintIssuedKey", () => {
  it("produces the docs/compatibility.md#test-vectors full key", () => {
    const key = mintIssuedKey({ prefix: "ory_ak", secret: SECRET, keyId: KEY_ID, unixSeconds: TS });
    expect(key).toBe(FULL_KEY);
    expect(key.length).toBe(119);
  });

  it("uses the docs/compatibility.md#test-vectors HMAC over the message with its trailing underscore", () => {
    const mac = createHmac("sha256", SECRET).update(`ory_ak_v1_${IDENTIFIER}_`).digest("hex");
    expect(mac).toBe("7a690cc6312e524a620e3eb94d5e330c2483aad4f4681384cc29828eaec8ee4c");
    expect(base58Encode(Buffer.from(mac, "hex"))).toBe(CHECKSUM);
  });

  it("supports prefixes containing underscores", () => {
    const key = mintIssuedKey({ prefix: "my_co_ak", secret: SECRET, keyId: KEY_ID, unixSeconds: TS });
    expect(key.startsWith(`my_co_ak_v1_${IDENTIFIER}_`)).toBe(true);
    expect(parseIssuedKey(key)).toMatchObject({ prefix: "my_co_ak", keyId: KEY_ID, unixSeconds: TS });
  });

  it("rejects programming errors", () => {
    const ok = { prefix: "ory_ak", secret: SECRET, keyId: KEY_ID, unixSeconds: TS };
    expect(() => mintIssuedKey({ ...ok, prefix: "a-b" })).toThrow(RangeError);
    expect(() => mintIssuedKey({ ...ok, prefix: "x".repeat(17) })).toThrow(RangeError);
    expect(() => mintIssuedKey({ ...ok, keyId: KEY_ID.toUpperCase() })).toThrow(RangeError);
    expect(() => mintIssuedKey({ ...ok, unixSeconds: 1.5 })).toThrow(RangeError);
    expect(() => mintIssuedKey({ ...ok, unixSeconds: -1 })).toThrow(RangeError);
  });
});

describe("parseIssuedKey", () => {
  it("splits the docs/compatibility.md#test-vectors full key", () => {
    expect(parseIssuedKey(FULL_KEY)).toEqual({
      prefix: "ory_ak",
      identifier: IDENTIFIER,
      checksum: CHECKSUM,
      unixSeconds: TS,
      keyId: KEY_ID,
    });
  });

  it("lowercases the embedded UUID", () => {
    const identifier = base58Encode(Buffer.from(`${TS}:${KEY_ID.toUpperCase()}`));
    expect(parseIssuedKey(`ory_ak_v1_${identifier}_${CHECKSUM}`)?.keyId).toBe(KEY_ID);
  });

  it("routes any checksum of at least 10 base58 characters (checked later)", () => {
    expect(parseIssuedKey(`ory_ak_v1_${IDENTIFIER}_1111111111`)?.checksum).toBe("1111111111");
    expect(parseIssuedKey(`ory_ak_v1_${IDENTIFIER}_111111111`)).toBeNull();
  });

  it("accepts any digit count the 20..60 byte bound allows", () => {
    expect(parseIssuedKey(`p_v1_${base58Encode(Buffer.from(`0:${KEY_ID}`))}_${CHECKSUM}`)?.unixSeconds).toBe(0);
    const long = `${"9".repeat(23)}:${KEY_ID}`; // 60 bytes
    expect(parseIssuedKey(`p_v1_${base58Encode(Buffer.from(long))}_${CHECKSUM}`)).not.toBeNull();
    const tooLong = `${"9".repeat(24)}:${KEY_ID}`; // 61 bytes
    expect(parseIssuedKey(`p_v1_${base58Encode(Buffer.from(tooLong))}_${CHECKSUM}`)).toBeNull();
  });

  it.each([
    ["payload without a UUID", "1767225600:not-a-uuid-at-all-but-long-enough"],
    ["payload without digits", ":3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f"],
    ["signed timestamp", "-1:3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f"],
    ["trailing bytes", "1767225600:3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f\n"],
    ["short payload", "12345678901234567890"],
    ["non-ASCII payload", "1767225600:3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5é"],
  ])("does not route an identifier holding a %s", (_name, payload) => {
    const identifier = base58Encode(Buffer.from(payload, "utf8"));
    expect(parseIssuedKey(`ory_ak_v1_${identifier}_${CHECKSUM}`)).toBeNull();
  });

  it("does not route an identifier longer than 128 characters", () => {
    const identifier = base58Encode(new Uint8Array(100).fill(0xff));
    expect(identifier.length).toBeGreaterThan(128);
    expect(parseIssuedKey(`ory_ak_v1_${identifier}_${CHECKSUM}`)).toBeNull();
  });

  it.each([
    "",
    "foo_v1_abc_def",
    "sk_live_example_0001",
    `ory_ak_v2_${IDENTIFIER}_${CHECKSUM}`,
    `${"x".repeat(17)}_v1_${IDENTIFIER}_${CHECKSUM}`,
    `ory-ak_v1_${IDENTIFIER}_${CHECKSUM}`,
    `ory_ak_v1_${IDENTIFIER}_${CHECKSUM}_`,
    `ory_ak_v1_${IDENTIFIER}${CHECKSUM}`,
    `ory_ak_v1_${IDENTIFIER.slice(0, 19)}_${CHECKSUM}`,
    `ory_ak_v1_${IDENTIFIER}_${CHECKSUM.replace("9", "0")}`,
    `ory_ak_v1_${IDENTIFIER.replace("Q", "l")}_${CHECKSUM}`,
    ` ${FULL_KEY}`,
    `${FULL_KEY}\n`,
    "ory_ak_v1_ключ_ключключключ",
    "🔑".repeat(100),
    `ory_ak_v1_${"z".repeat(8000)}_${CHECKSUM}`,
    "_".repeat(8192),
    "1".repeat(8192),
    "\u0000".repeat(50),
  ])("returns null without throwing for garbage #%#", (garbage) => {
    expect(parseIssuedKey(garbage)).toBeNull();
  });

  it("routes a well-formed key with an absurdly long checksum, which the checker then rejects", () => {
    const p = parsed(`ory_ak_v1_${IDENTIFIER}_${"z".repeat(8000)}`);
    expect(checker()(p)).toBe(false);
  });
});

describe("createIssuedKeyChecker (docs/compatibility.md#test-vectors behaviour table)", () => {
  const key = parsed(FULL_KEY);

  it("accepts the key as given", () => {
    expect(checker()(key)).toBe(true);
  });

  it("accepts the key after the secret moved to retired", () => {
    expect(checker({ secrets: () => [OTHER_SECRET, SECRET] })(key)).toBe(true);
  });

  it("rejects under a different secret only", () => {
    expect(checker({ secrets: () => [OTHER_SECRET] })(key)).toBe(false);
  });

  it("rejects a changed last checksum character", () => {
    expect(checker()(parsed(withLastCharChanged(FULL_KEY)))).toBe(false);
  });

  it("rejects when the prefix is not configured", () => {
    expect(checker({ prefixes: ["other_ak"] })(key)).toBe(false);
    expect(checker({ prefixes: [] })(key)).toBe(false);
  });

  it("accepts a retired or public prefix in the configured set", () => {
    expect(checker({ prefixes: ["new_ak", "pub_ak", "ory_ak"] })(key)).toBe(true);
  });

  it("rejects at 2027-01-01T00:00:01Z with max_ttl 8760h (age check)", () => {
    expect(checker({ now: () => Date.parse("2027-01-01T00:00:01Z") })(key)).toBe(false);
    expect(checker({ now: () => Date.parse("2027-01-01T00:00:00Z") })(key)).toBe(true);
  });

  it("skips the age check when max_ttl is 0", () => {
    expect(checker({ maxTtlMs: 0, now: () => Date.parse("2040-01-01T00:00:00Z") })(key)).toBe(true);
  });

  it("rejects at 2025-12-31T23:54:59Z (more than the skew before ts)", () => {
    expect(checker({ now: () => Date.parse("2025-12-31T23:54:59Z") })(key)).toBe(false);
    expect(checker({ now: () => Date.parse("2025-12-31T23:55:00Z") })(key)).toBe(true);
  });

  it("accepts anywhere inside 2026", () => {
    for (const at of ["2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z"]) {
      expect(checker({ now: () => Date.parse(at) })(key)).toBe(true);
    }
  });

  it("verifies keys with underscore prefixes", () => {
    const k = mintIssuedKey({ prefix: "my_co_ak", secret: SECRET, keyId: KEY_ID, unixSeconds: TS });
    expect(checker({ prefixes: ["my_co_ak"] })(parsed(k))).toBe(true);
    expect(checker({ prefixes: ["co_ak"] })(parsed(k))).toBe(false);
  });

  it("binds the checksum to the prefix", () => {
    const forged = parsed(`evil_v1_${IDENTIFIER}_${CHECKSUM}`);
    expect(checker({ prefixes: ["ory_ak", "evil"] })(forged)).toBe(false);
  });

  it("rejects checksums of the wrong decoded length without throwing", () => {
    const c = checker();
    expect(c({ ...key, checksum: "1111111111" })).toBe(false);
    expect(c({ ...key, checksum: base58Encode(new Uint8Array(31).fill(7)) })).toBe(false);
    expect(c({ ...key, checksum: `1${CHECKSUM}` })).toBe(false); // 33 bytes: a leading zero byte
    expect(c({ ...key, checksum: "z".repeat(5000) })).toBe(false);
    expect(c({ ...key, checksum: "0OIl" })).toBe(false);
  });

  it("accepts a checksum whose HMAC encodes to 43 characters", () => {
    // Find a key id whose checksum is short (a small leading byte), to prove no length assumption.
    for (let i = 0; i < 5000; i++) {
      const keyId = `3f2c9a4e-8b1d-4c7e-9f00-${i.toString(16).padStart(12, "0")}`;
      const k = mintIssuedKey({ prefix: "ory_ak", secret: SECRET, keyId, unixSeconds: TS });
      const p = parsed(k);
      if (p.checksum.length < 44) {
        expect(base58Decode(p.checksum)?.length).toBe(32);
        expect(checker()(p)).toBe(true);
        return;
      }
    }
    throw new Error("no short checksum found");
  });

  it("reads the secret list on every call", () => {
    let secrets = [SECRET];
    const c = checker({ secrets: () => secrets });
    expect(c(key)).toBe(true);
    secrets = [OTHER_SECRET];
    expect(c(key)).toBe(false);
    secrets = [];
    expect(c(key)).toBe(false);
  });

  it("rejects absurd timestamps", () => {
    expect(checker()({ ...key, unixSeconds: 1e23 })).toBe(false);
    expect(checker({ maxTtlMs: 0 })({ ...key, unixSeconds: Number.POSITIVE_INFINITY })).toBe(false);
  });
});
