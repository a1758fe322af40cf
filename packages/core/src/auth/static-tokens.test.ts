import { describe, expect, it } from "vitest";
import { createStaticTokenMatcher, generateAdminToken, hashAdminToken } from "./static-tokens.js";

describe("createStaticTokenMatcher", () => {
  const a = generateAdminToken();
  const b = "talos_at_ünïcode-token";
  const match = createStaticTokenMatcher([
    { name: "a", hash: hashAdminToken(a), permissions: ["keys:read"] },
    { name: "b", hash: hashAdminToken(b), permissions: ["admin"] },
  ]);

  it("finds the entry whose hash is the token's (the one-shot hash agrees with hashAdminToken, UTF-8 too)", () => {
    expect(match(a)?.name).toBe("a");
    expect(match(b)?.name).toBe("b");
    expect([...match(b)!.permissions]).toEqual(["admin"]);
  });

  it("refuses anything else", () => {
    for (const t of ["", `${a}x`, a.slice(0, -1), b.normalize("NFD"), generateAdminToken()]) expect(match(t)).toBeNull();
  });
});
