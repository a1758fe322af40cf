import { describe, expect, it } from "vitest";
import { createKeyCache, type CachedKey } from "./cache.js";

const NOW = 1_800_000_000_000;

function key(keyId: string, over: Partial<CachedKey> = {}): CachedKey {
  return {
    kind: "issued",
    keyId,
    actorId: `actor-${keyId}`,
    scopes: ["keys:read", "keys:write"],
    metadata: { plan: "pro", owner: keyId },
    expireTime: NOW + 86_400_000,
    lastUsedTime: null,
    rateLimitPolicy: { quota: 100, windowSeconds: 60, unit: "requests" },
    allowedCidrs: ["10.0.0.0/8"],
    revoked: false,
    visibility: 1,
    ...over,
  };
}

describe("key cache", () => {
  const cache = () => createKeyCache({ nid: "n", ttlMs: 60_000, maxEntries: 10, now: () => NOW });

  it("returns what was stored, field for field", () => {
    const c = cache();
    const k = key("k1");
    c.set(k, NOW);
    expect(c.get("issued", "k1")).toEqual(k);
    expect(c.get("imported", "k1")).toBeUndefined();
  });

  it("stores one shared copy of scope lists, policies and CIDR lists repeated across keys", () => {
    const c = cache();
    c.set(key("k1"), NOW);
    c.set(key("k2"), NOW);
    c.set(key("k3", { scopes: ["other"], rateLimitPolicy: { quota: 5, windowSeconds: 1, unit: "requests" } }), NOW);
    const [a, b, other] = ["k1", "k2", "k3"].map((id) => c.get("issued", id)!);
    expect(b!.scopes).toBe(a!.scopes);
    expect(b!.rateLimitPolicy).toBe(a!.rateLimitPolicy);
    expect(b!.allowedCidrs).toBe(a!.allowedCidrs);
    expect(b!.metadata).not.toBe(a!.metadata);
    expect(other!.scopes).toEqual(["other"]);
    expect(other!.rateLimitPolicy).toEqual({ quota: 5, windowSeconds: 1, unit: "requests" });
  });

  it("keeps a null policy and a null CIDR list null", () => {
    const c = cache();
    c.set(key("k1", { rateLimitPolicy: null, allowedCidrs: null }), NOW);
    const got = c.get("issued", "k1")!;
    expect(got.rateLimitPolicy).toBeNull();
    expect(got.allowedCidrs).toBeNull();
  });

  it("does not store a key that expires within a second", () => {
    const c = cache();
    c.set(key("k1", { expireTime: NOW + 999 }), NOW);
    expect(c.get("issued", "k1")).toBeUndefined();
  });
});
