import { describe, expect, it } from "vitest";
import { combineCacheOutcomes, type CacheOutcome } from "./result.js";

describe("combineCacheOutcomes (batch Ory-Talos-Cache, docs/verification.md#batch-verify)", () => {
  const all = (...items: CacheOutcome[]) => items.reduce(combineCacheOutcomes, "SKIP");
  it("SKIP when no item consulted the cache", () => {
    expect(all()).toBe("SKIP");
    expect(all("SKIP", "SKIP")).toBe("SKIP");
  });
  it("HIT only when every item that consulted the cache hit", () => {
    expect(all("HIT")).toBe("HIT");
    expect(all("SKIP", "HIT", "SKIP", "HIT")).toBe("HIT");
  });
  it("MISS as soon as one item missed, in any position", () => {
    expect(all("MISS", "HIT")).toBe("MISS");
    expect(all("HIT", "SKIP", "MISS")).toBe("MISS");
    expect(all("HIT", "MISS", "HIT")).toBe("MISS");
  });
});
