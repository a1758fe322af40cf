import { describe, expect, it } from "vitest";
import { createInternPool } from "./intern.js";

describe("createInternPool", () => {
  const lists = () => createInternPool<string[]>((s) => JSON.stringify(s), 3);

  it("hands back one shared frozen copy for equal content, leaving the caller's value untouched", () => {
    const pool = lists();
    const a = ["keys:read", "keys:write"];
    const b = ["keys:read", "keys:write"];
    const ia = pool.intern(a);
    const ib = pool.intern(b);
    expect(ib).toBe(ia);
    expect(ia).toEqual(a);
    expect(Object.isFrozen(ia)).toBe(true);
    expect(Object.isFrozen(a)).toBe(false);
    a.push("mutated");
    expect(ia).toEqual(["keys:read", "keys:write"]);
  });

  it("never merges different content, whatever characters it holds", () => {
    const pool = lists();
    const joined = pool.intern(["a,b"]);
    const split = pool.intern(["a", "b"]);
    const nul = pool.intern(["a\u0000b"]);
    expect(joined).toEqual(["a,b"]);
    expect(split).toEqual(["a", "b"]);
    expect(nul).toEqual(["a\u0000b"]);
    expect(new Set([joined, split, nul]).size).toBe(3);
  });

  it("stops growing at its bound and then returns the caller's own value", () => {
    const pool = lists();
    for (const s of ["a", "b", "c"]) pool.intern([s]);
    const own = ["d"];
    expect(pool.intern(own)).toBe(own);
    expect(pool.size).toBe(3);
    expect(pool.intern(["a"])).toEqual(["a"]);
  });
});
