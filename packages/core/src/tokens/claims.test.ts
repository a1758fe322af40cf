import { describe, expect, it } from "vitest";
import { TalosError } from "../errors.js";
import { parseIp } from "../net/cidr.js";
import { KeyStatus, KeyVisibility, NIL_NID, VerificationError, keyRecord, type KeyRecord } from "../types.js";
import { buildClaims, checkClaims, checkCustomClaims, claimsOutcome, effectiveScopes, RESERVED_CLAIMS, type ClaimCheck } from "./claims.js";

const NOW = Date.UTC(2026, 0, 1);
const SKEW = 5 * 60_000;

function parent(over: Partial<KeyRecord> = {}): KeyRecord {
  return keyRecord(
    { nid: NIL_NID, kind: "issued", keyId: "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f", name: "n", actorId: "user_1", scopes: ["read", "write"], ...over },
    new Date(NOW - 1000),
  );
}

const iat = NOW / 1000;
const claims = (over: Partial<KeyRecord> = {}, custom?: Record<string, unknown>) =>
  buildClaims({ parent: parent(over), jti: "j", issuer: "https://iss", nid: NIL_NID, iat, exp: iat + 3600, scopes: ["read"], customClaims: custom });
const check = (over: Partial<ClaimCheck> = {}): ClaimCheck => ({
  type: "jwt",
  now: NOW,
  clockSkewMs: SKEW,
  nid: NIL_NID,
  issuers: ["https://iss"],
  clientIp: parseIp("10.0.0.1"),
  ...over,
});

function throwsBadRequest(fn: () => void, message: string) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TalosError);
    expect((e as TalosError).id).toBe("bad_request");
    expect((e as TalosError).message).toBe(message);
    return;
  }
  throw new Error("expected a bad_request");
}

describe("custom claims", () => {
  it.each([...RESERVED_CLAIMS, "act"])("rejects the reserved name %s", (name) => {
    throwsBadRequest(() => checkCustomClaims({ ok: 1, [name]: "x" }), `custom_claims: "${name}" is a reserved claim name`);
  });

  it("accepts exactly 4096 bytes and rejects 4097 (UTF-8, compact JSON)", () => {
    const overhead = JSON.stringify({ a: "" }).length;
    expect(() => checkCustomClaims({ a: "x".repeat(4096 - overhead) })).not.toThrow();
    throwsBadRequest(() => checkCustomClaims({ a: "x".repeat(4097 - overhead) }), "custom_claims: must be at most 4096 bytes as JSON");
    throwsBadRequest(() => checkCustomClaims({ a: "é".repeat(2100) }), "custom_claims: must be at most 4096 bytes as JSON");
  });

  it("allows nested objects using reserved names below the top level", () => {
    expect(() => checkCustomClaims({ ctx: { sub: "x", exp: 1 } })).not.toThrow();
  });
});

describe("buildClaims (docs/derived-tokens.md#jwt)", () => {
  it("emits the claim set with custom claims at top level", () => {
    expect(claims({ metadata: { team: "a" }, allowedCidrs: ["10.0.0.0/8"] }, { tenant: "t1" })).toEqual({
      jti: "j",
      sub: "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f",
      iss: "https://iss",
      iat,
      nbf: iat,
      exp: iat + 3600,
      act: "user_1",
      nid: NIL_NID,
      scp: ["read"],
      meta: { team: "a" },
      vis: "secret",
      acl: ["10.0.0.0/8"],
      tenant: "t1",
    });
  });

  it("omits meta and acl when unset and marks public keys", () => {
    const c = claims({ visibility: KeyVisibility.PUBLIC });
    expect(c).not.toHaveProperty("meta");
    expect(c).not.toHaveProperty("acl");
    expect(c.vis).toBe("public");
  });
});

describe("checkClaims", () => {
  it("maps a valid claim set (metadata = custom claims overlaid by meta)", () => {
    const v = checkClaims(claims({ metadata: { team: "a", tenant: "meta-wins" } }, { tenant: "t1", extra: true }), check());
    expect(v).toMatchObject({
      isValid: true,
      status: KeyStatus.ACTIVE,
      keyId: "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f",
      actorId: "user_1",
      scopes: ["read"],
      expireTime: (iat + 3600) * 1000,
      metadata: { tenant: "meta-wins", extra: true, team: "a" },
      visibility: KeyVisibility.SECRET,
      issuer: "https://iss",
      errorCode: VerificationError.UNSPECIFIED,
      cache: "SKIP",
      credentialType: "jwt",
    });
  });

  it("has null metadata with neither custom claims nor meta; akid wins over sub; scope is read when scp is absent", () => {
    const c = claims();
    delete c.scp;
    const v = checkClaims({ ...c, akid: "ak", scope: "a b  c" }, check());
    expect(v.metadata).toBeNull();
    expect(v.keyId).toBe("ak");
    expect(v.scopes).toEqual(["a", "b", "c"]);
    expect(checkClaims({ ...c, scope: ["x"] }, check()).scopes).toEqual(["x"]);
  });

  it("applies clock skew to JWT exp but not to macaroon exp", () => {
    const c = claims();
    const after = (iat + 3600) * 1000 + 1000;
    expect(checkClaims(c, check({ now: after })).isValid).toBe(true);
    const jwtLate = checkClaims(c, check({ now: after + SKEW }));
    expect(jwtLate.errorCode).toBe(VerificationError.EXPIRED);
    expect(jwtLate.status).toBe(KeyStatus.EXPIRED);
    expect(jwtLate.keyId).toBe(c.sub);
    expect(jwtLate.issuer).toBe("");
    expect(checkClaims(c, check({ type: "macaroon", now: (iat + 3600) * 1000 })).errorCode).toBe(VerificationError.EXPIRED);
    expect(checkClaims(c, check({ type: "macaroon", now: (iat + 3600) * 1000 - 1 })).isValid).toBe(true);
  });

  it("rejects nbf beyond the skew as INVALID_FORMAT", () => {
    const c = { ...claims(), nbf: iat + 301 };
    expect(checkClaims(c, check()).errorCode).toBe(VerificationError.INVALID_FORMAT);
    expect(checkClaims({ ...c, nbf: iat + 299 }, check()).isValid).toBe(true);
  });

  it("answers NOT_FOUND with no fields for another issuer or network", () => {
    const wrongIss = checkClaims({ ...claims(), iss: "https://other" }, check());
    expect(wrongIss).toMatchObject({ errorCode: VerificationError.NOT_FOUND, keyId: "", scopes: [], metadata: null });
    expect(checkClaims({ ...claims(), iss: "https://other" }, check({ issuers: ["https://iss", "https://other"] })).isValid).toBe(true);
    expect(checkClaims({ ...claims(), nid: "11111111-1111-1111-1111-111111111111" }, check()).errorCode).toBe(VerificationError.NOT_FOUND);
    const noNid = claims();
    delete noNid.nid;
    expect(checkClaims(noNid, check()).errorCode).toBe(VerificationError.NOT_FOUND);
  });

  it("accepts tty derived only", () => {
    expect(checkClaims({ ...claims(), tty: "derived" }, check()).isValid).toBe(true);
    expect(checkClaims({ ...claims(), tty: "api_key" }, check()).errorCode).toBe(VerificationError.INVALID_FORMAT);
  });

  it.each([
    ["exp missing", { exp: undefined }],
    ["exp a string", { exp: "1" }],
    ["scp not an array", { scp: "read" }],
    ["acl not a string array", { acl: [1] }],
    ["meta an array", { meta: [1] }],
  ])("treats %s as INVALID_FORMAT", (_n, over) => {
    expect(checkClaims({ ...claims(), ...over }, check()).errorCode).toBe(VerificationError.INVALID_FORMAT);
  });

  it("enforces sealed CIDRs against the client IP, failing closed when it is unknown", () => {
    const c = claims({ allowedCidrs: ["10.0.0.0/8", "2001:db8::/32"] });
    expect(checkClaims(c, check({ clientIp: parseIp("10.1.2.3") })).isValid).toBe(true);
    expect(checkClaims(c, check({ clientIp: parseIp("::ffff:10.1.2.3") })).isValid).toBe(true);
    expect(checkClaims(c, check({ clientIp: parseIp("2001:db8::1") })).isValid).toBe(true);
    const denied = checkClaims(c, check({ clientIp: parseIp("192.168.0.1") }));
    expect(denied).toMatchObject({ isValid: false, errorCode: VerificationError.IP_NOT_ALLOWED, status: KeyStatus.UNSPECIFIED, keyId: c.sub, noStore: true });
    expect(checkClaims(c, check({ clientIp: null })).errorCode).toBe(VerificationError.IP_NOT_ALLOWED);
  });

  it("claimsOutcome reports public visibility", () => {
    expect(claimsOutcome("macaroon", claims({ visibility: KeyVisibility.PUBLIC }), VerificationError.UNSPECIFIED).visibility).toBe(KeyVisibility.PUBLIC);
  });
});

describe("effectiveScopes", () => {
  it("defaults to the parent's scopes and accepts subsets", () => {
    expect(effectiveScopes(["a", "b"], undefined)).toEqual(["a", "b"]);
    expect(effectiveScopes(["a", "b"], [])).toEqual(["a", "b"]);
    expect(effectiveScopes(["a", "b"], ["b"])).toEqual(["b"]);
  });

  it("rejects a scope the parent lacks with 403 forbidden naming it", () => {
    try {
      effectiveScopes(["a"], ["a", "admin"]);
      throw new Error("expected forbidden");
    } catch (e) {
      expect((e as TalosError).id).toBe("forbidden");
      expect((e as TalosError).message).toBe("requested scope 'admin' not available in parent key");
    }
  });
});
