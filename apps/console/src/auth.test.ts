import { describe, expect, it } from "vitest";
import { can, consoleKeys, csrfToken, csrfValid, newCsrfSeed, openSession, sealSession } from "./auth.js";

const keys = consoleKeys("hmac-secret-for-tests-0123456789abcdef");
const alice = { subject: "alice", permissions: ["keys:read", "keys:write"] };

describe("console session cookie", () => {
  it("opens what it sealed until it expires", () => {
    const cookie = sealSession(keys, alice, 10_000);
    expect(openSession(keys, cookie, 9_999)).toEqual(alice);
    expect(openSession(keys, cookie, 10_000)).toBeNull();
  });

  it("refuses a changed body, a foreign key, and garbage", () => {
    const cookie = sealSession(keys, alice, 10_000);
    const [body, mac] = cookie.split(".");
    const forged = Buffer.from(JSON.stringify({ s: "alice", p: ["admin"], e: 10_000 })).toString("base64url");
    expect(openSession(keys, `${forged}.${mac}`, 0)).toBeNull();
    expect(openSession(consoleKeys("another-secret-0123456789abcdefgh"), cookie, 0)).toBeNull();
    for (const bad of ["", ".", "abc", `${body}.`, `${body}.%%%`, undefined]) expect(openSession(keys, bad, 0)).toBeNull();
  });

  it("holds no credential, only the name, permissions and expiry", () => {
    const body = sealSession(keys, alice, 10_000).split(".")[0]!;
    expect(JSON.parse(Buffer.from(body, "base64url").toString())).toEqual({ s: "alice", p: ["keys:read", "keys:write"], e: 10_000 });
  });
});

describe("CSRF tokens", () => {
  it("fit only their own cookie", () => {
    const seed = newCsrfSeed();
    const token = csrfToken(keys, seed);
    expect(csrfValid(keys, seed, token)).toBe(true);
    expect(csrfValid(keys, newCsrfSeed(), token)).toBe(false);
    expect(csrfValid(keys, seed, "")).toBe(false);
    expect(csrfValid(keys, seed, undefined)).toBe(false);
    expect(csrfValid(keys, undefined, token)).toBe(false);
    expect(csrfValid(keys, seed, seed)).toBe(false); // the cookie itself is not the token
  });
});

describe("permissions", () => {
  it("admin implies every permission", () => {
    expect(can({ subject: "r", permissions: ["keys:read"] }, "keys:read")).toBe(true);
    expect(can({ subject: "r", permissions: ["keys:read"] }, "keys:write")).toBe(false);
    expect(can({ subject: "a", permissions: ["admin"] }, "tokens:derive")).toBe(true);
  });
});
