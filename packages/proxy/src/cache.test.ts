import { describe, expect, it } from "vitest";
import { cacheKey, VerifyCache, type CachedVerify } from "./cache.js";

const entry = (keyId: string, pad = 0): CachedVerify => {
  const body = { is_valid: true, key_id: keyId, pad: "x".repeat(pad) };
  return { body, raw: Buffer.from(JSON.stringify(body)), keyId, noStore: false, headers: {} };
};

describe("cacheKey", () => {
  it("length-prefixes its parts: no boundary can be forged", () => {
    expect(cacheKey("a", "bc")).not.toBe(cacheKey("ab", "c"));
    expect(cacheKey("host", "cred")).toBe(cacheKey("host", "cred"));
    expect(cacheKey("host", "cred")).not.toContain("cred");
  });
});

describe("VerifyCache", () => {
  it("evicts every entry of a key id and nothing else", () => {
    const c = new VerifyCache(1 << 20);
    c.set("a1", entry("k1"), 60_000);
    c.set("a2", entry("k1"), 60_000);
    c.set("b1", entry("k2"), 60_000);
    expect(c.evictKeyId("k1")).toBe(2);
    expect(c.get("a1")).toBeUndefined();
    expect(c.get("a2")).toBeUndefined();
    expect(c.get("b1")?.keyId).toBe("k2");
    expect(c.evictKeyId("k1")).toBe(0);
  });

  it("stays under its byte bound, dropping the least recently used", () => {
    const c = new VerifyCache(10_000);
    for (let i = 0; i < 50; i++) c.set(`e${i}`, entry(`k${i}`, 500), 60_000);
    expect(c.bytes).toBeLessThanOrEqual(10_000);
    expect(c.get("e49")).toBeDefined();
    expect(c.get("e0")).toBeUndefined();
    // the id index follows LRU evictions
    expect(c.evictKeyId("k0")).toBe(0);
  });

  it("expires entries after their TTL", async () => {
    const c = new VerifyCache(1 << 20);
    c.set("a", entry("k"), 30);
    expect(c.get("a")).toBeDefined();
    await new Promise((r) => setTimeout(r, 60));
    expect(c.get("a")).toBeUndefined();
  });

  it("clear() empties everything", () => {
    const c = new VerifyCache(1 << 20);
    c.set("a", entry("k"), 60_000);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.evictKeyId("k")).toBe(0);
  });
});
