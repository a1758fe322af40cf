import { describe, expect, it } from "vitest";
import { base58Decode, base58Encode } from "./base58.js";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("base58", () => {
  it("encodes the docs/compatibility.md#test-vectors sanity vectors", () => {
    expect(base58Encode(ascii("Hello World!"))).toBe("2NEpo7TZRRrLZSi2U");
    expect(base58Encode(new Uint8Array([0, 0, 0, 1]))).toBe("1112");
  });

  it("decodes the docs/compatibility.md#test-vectors sanity vectors back to their inputs", () => {
    expect(text(base58Decode("2NEpo7TZRRrLZSi2U")!)).toBe("Hello World!");
    expect(Array.from(base58Decode("1112")!)).toEqual([0, 0, 0, 1]);
  });

  it("round-trips the docs/compatibility.md#test-vectors identifier and checksum", () => {
    const payload = "1767225600:3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f";
    const identifier = "Qixkm4LLsreXThDin1PMp9sWK4x6LUoqCmkeLVEqBFS2B8YTHGnSV2U6GHuMLoWd";
    expect(base58Encode(ascii(payload))).toBe(identifier);
    expect(text(base58Decode(identifier)!)).toBe(payload);
    const hmac = Buffer.from("7a690cc6312e524a620e3eb94d5e330c2483aad4f4681384cc29828eaec8ee4c", "hex");
    expect(base58Encode(hmac)).toBe("9EqeTSRe7bcCsfm5SdpUkfJCio1NU9TaVQFWXiumh6DZ");
    expect(Buffer.from(base58Decode("9EqeTSRe7bcCsfm5SdpUkfJCio1NU9TaVQFWXiumh6DZ")!).toString("hex")).toBe(
      hmac.toString("hex"),
    );
  });

  it("handles the empty input", () => {
    expect(base58Encode(new Uint8Array())).toBe("");
    expect(base58Decode("")).toEqual(new Uint8Array());
  });

  it.each(["0", "O", "I", "l", "abc_def", "é", "abc ", "+/"])("returns null for %j", (bad) => {
    expect(base58Decode(bad)).toBeNull();
  });
});
