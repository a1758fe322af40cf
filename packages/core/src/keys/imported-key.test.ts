import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NIL_NID } from "../types.js";
import { isUuid } from "./ids.js";
import { importedKeyId, isImportedKeyId } from "./imported-key.js";

describe("importedKeyId", () => {
  it("matches the docs/compatibility.md#test-vectors vector", () => {
    expect(importedKeyId(NIL_NID, "sk_live_example_0001")).toBe(
      "5c307a51521d853fb92610f351eff76d1aeec225a7cbdc8ec4f7558b09594648",
    );
  });

  it("uses FIPS SHA-512/256, not truncated SHA-512", () => {
    expect(createHash("sha512-256").update("abc").digest("hex")).toBe(
      "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",
    );
  });

  it("hashes nid ‖ 0x00 ‖ raw key", () => {
    const expected = createHash("sha512-256").update(`${NIL_NID}\0sk_live_example_0001`).digest("hex");
    expect(importedKeyId(NIL_NID, "sk_live_example_0001")).toBe(expected);
  });

  it("differs per network and treats the nid case-insensitively", () => {
    const other = "11111111-2222-4333-8444-555555555555";
    expect(importedKeyId(other, "k")).not.toBe(importedKeyId(NIL_NID, "k"));
    expect(importedKeyId("AAAAAAAA-2222-4333-8444-555555555555", "k")).toBe(
      importedKeyId("aaaaaaaa-2222-4333-8444-555555555555", "k"),
    );
  });

  it("hashes the raw key exactly as sent (no trimming, UTF-8)", () => {
    expect(importedKeyId(NIL_NID, " k")).not.toBe(importedKeyId(NIL_NID, "k"));
    const utf8 = createHash("sha512-256").update(Buffer.concat([Buffer.from(`${NIL_NID}\0`), Buffer.from("ключ", "utf8")]));
    expect(importedKeyId(NIL_NID, "ключ")).toBe(utf8.digest("hex"));
  });

  it("always yields an imported key id", () => {
    expect(isImportedKeyId(importedKeyId(NIL_NID, ""))).toBe(true);
  });
});

describe("isImportedKeyId", () => {
  it("accepts 64 lowercase hex characters only", () => {
    expect(isImportedKeyId("5c307a51521d853fb92610f351eff76d1aeec225a7cbdc8ec4f7558b09594648")).toBe(true);
    expect(isImportedKeyId("5C307A51521D853FB92610F351EFF76D1AEEC225A7CBDC8EC4F7558B09594648")).toBe(false);
    expect(isImportedKeyId("5c307a51")).toBe(false);
    expect(isImportedKeyId(`${"a".repeat(64)}\n`)).toBe(false);
    expect(isImportedKeyId("g".repeat(64))).toBe(false);
  });
});

describe("isUuid", () => {
  it("accepts canonical UUIDs in any case", () => {
    expect(isUuid("3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f")).toBe(true);
    expect(isUuid("3F2C9A4E-8B1D-4C7E-9F00-1A2B3C4D5E6F")).toBe(true);
    expect(isUuid(NIL_NID)).toBe(true);
  });

  it.each(["", "3f2c9a4e8b1d4c7e9f001a2b3c4d5e6f", "{3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f}", "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6g", "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f\n"])(
    "rejects %j",
    (s) => expect(isUuid(s)).toBe(false),
  );
});
