import { describe, expect, it } from "vitest";
import { macaroonRootKey, pageTokenKey } from "./derived-key-ids.js";

const SECRET = "0123456789abcdef0123456789abcdef";
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("derived keys", () => {
  it("macaroon root key matches the docs/compatibility.md#test-vectors vector", () => {
    expect(hex(macaroonRootKey(SECRET))).toBe("d88a20e89d10d9c5a449a2d65a0e53f175bacd367e356a28a641a6dc947a6e86");
  });

  it("page-token key matches the docs/compatibility.md#test-vectors vector", () => {
    expect(hex(pageTokenKey(SECRET))).toBe("071ec3911e1cc5c43316e59e3734144f148e5871627021006f40e3289ef2a4e0");
  });

  it("returns 32-byte plain Uint8Arrays that differ per secret and purpose", () => {
    const a = macaroonRootKey(SECRET);
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a.length).toBe(32);
    expect(hex(macaroonRootKey(`${SECRET}x`))).not.toBe(hex(a));
    expect(hex(pageTokenKey(SECRET))).not.toBe(hex(a));
  });
});
