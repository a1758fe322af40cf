import { createHmac, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CompactSign, createLocalJWKSet, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from "jose";
import macaroon from "macaroon";
import { encodeMacaroonV2, generateSigningJwk, jwksBase64Url, RESERVED_CLAIMS } from "@talos/core";
import { appFor } from "@talos/server";
import { startOn, startTestServer, testDatabases, TEST_ISSUER, TEST_SECRET, type TestServer } from "../support/harness.js";
import {
  BATCH_VERIFY,
  NOT_FOUND_VERIFICATION,
  SELF_REVOKE,
  UUID_V4,
  actor,
  expectBadRequest,
  expectEnvelope,
  issue,
  manualClock,
  rfc3339,
  verify,
} from "../support/http-expect.js";

/** docs/derived-tokens.md: derive, JWT and macaroon formats, their verification, the JWKS, key rotation. */

const DERIVE = "/v2alpha1/admin/apiKeys:derive";
const IMPORTED = "/v2alpha1/admin/importedApiKeys";
const JWKS = "/v2alpha1/derivedKeys/jwks.json";
const NID = "00000000-0000-0000-0000-000000000000";
const SIGNING_URLS = "credentials.derived_tokens.jwt.signing_keys.urls";
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

const key1 = await generateSigningJwk("eddsa", { kid: "key-1" });
const key2 = await generateSigningJwk("eddsa", { kid: "key-2" });
const rsa = await generateSigningJwk("rsa", { kid: "rsa-1" });
const publicOf = (k: JWK): JWK => ({ kty: k.kty, kid: k.kid, crv: k.crv, x: k.x });

const enc = new TextEncoder();
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
/** The documented root key, computed here independently of the server code (docs/derived-tokens.md#macaroon). */
const rootKeyOf = (secret: string) => createHmac("sha256", Buffer.from(secret, "utf8")).update("talos/macaroon/v1/root-key").digest();

async function signWith(jwk: JWK, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const key = await importJWK(jwk, "EdDSA");
  return new CompactSign(enc.encode(JSON.stringify(claims))).setProtectedHeader({ alg: "EdDSA", kid: jwk.kid, typ: "JWT", ...header }).sign(key);
}

/** A macaroon minted by the npm `macaroon` package (libmacaroons semantics), as the reference would. */
function npmMacaroon(claims: Record<string, unknown>, opts: { secret?: string; prefix?: string; caveats?: string[]; thirdParty?: boolean } = {}): string {
  const m = macaroon.newMacaroon({ identifier: JSON.stringify({ jti: randomUUID() }), location: TEST_ISSUER, rootKey: rootKeyOf(opts.secret ?? TEST_SECRET) });
  for (const c of opts.caveats ?? [JSON.stringify(claims)]) m.addFirstPartyCaveat(c);
  if (opts.thirdParty) m.addThirdPartyCaveat(enc.encode("0123456789abcdef0123456789abcdef"), "discharge-me", "https://elsewhere");
  // The package's exportBinary doubles its buffer on every field (3.0.4 bug), so larger macaroons are
  // serialised with our V2 encoder, which unit tests prove byte-identical to the package's output.
  const caveats = m.caveats.map((c) => ({ identifier: c.identifier, location: c.location || null, vid: c.vid ?? null }));
  const bytes = encodeMacaroonV2({ location: m.location, identifier: m.identifier, caveats, signature: m.signature });
  return `${opts.prefix ?? "mc"}_v1_${Buffer.from(bytes).toString("base64url")}`;
}

const derive = (s: TestServer, body: unknown, remoteAddress?: string) => s.request("POST", DERIVE, body, {}, remoteAddress);

async function deriveOk(s: TestServer, body: Record<string, unknown>, remoteAddress?: string) {
  const res = await derive(s, body, remoteAddress);
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.body)).toEqual(["token"]);
  expect(Object.keys(res.body.token).sort()).toEqual(["claims", "expire_time", "scopes", "token"]);
  return res.body.token as { token: string; expire_time: string; scopes: string[]; claims: Record<string, any> };
}

async function importKey(s: TestServer, body: Record<string, unknown> = {}) {
  const raw = `sk_test_${randomUUID()}`;
  const res = await s.request("POST", IMPORTED, { raw_key: raw, name: "imported", actor_id: actor("imp"), ...body });
  expect(res.status, res.text).toBe(201);
  return { key: res.body, raw };
}

/** Counts every repository call, to prove that derived-token verification never reads storage. */
function countRepoCalls(s: TestServer): { total(): number } {
  const repo = s.built.store.repo as unknown as Record<string, unknown>;
  let calls = 0;
  for (const name of Object.keys(repo)) {
    const fn = repo[name];
    if (typeof fn !== "function") continue;
    repo[name] = (...args: unknown[]) => {
      calls++;
      return (fn as (...a: unknown[]) => unknown).apply(repo, args);
    };
  }
  return { total: () => calls };
}

function expectBareFailure(body: any, code: string, message?: string) {
  expect(body).toEqual({
    ...NOT_FOUND_VERIFICATION,
    error_code: code,
    error_message: message ?? body.error_message,
  });
  expect(body.error_message).not.toBe("");
}

const clock = manualClock();
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({
    clock: clock.read,
    overrides: {
      [SIGNING_URLS]: [jwksBase64Url({ keys: [key1] })],
      "credentials.api_keys.prefix.public_current": "pk",
    },
  });
});
afterAll(async () => {
  await s?.close();
});

describe("derive: request and parent checks (docs/derived-tokens.md#derive)", () => {
  it("400 credential_required when the credential is missing or empty", async () => {
    for (const body of [{}, { credential: "" }, { credential: null }]) {
      expectEnvelope(await derive(s, body), 400, "INVALID_ARGUMENT", "CREDENTIAL_REQUIRED", { message: "credential is required" });
    }
  });

  it("400 invalid_token_type when the credential is itself a JWT or a macaroon", async () => {
    const { secret } = await issue(s, { actor_id: actor("tt") });
    for (const algorithm of ["TOKEN_ALGORITHM_JWT", "TOKEN_ALGORITHM_MACAROON"]) {
      const t = await deriveOk(s, { credential: secret, algorithm });
      expectEnvelope(await derive(s, { credential: t.token }), 400, "INVALID_ARGUMENT", "INVALID_TOKEN_TYPE", {
        message: "derived tokens cannot be used to derive tokens",
      });
    }
  });

  it("401 unauthorized when the parent does not verify (unknown, bad checksum, unknown prefix, deleted)", async () => {
    const { secret } = await issue(s, { actor_id: actor("un") });
    const badChecksum = secret.slice(0, -1) + (secret.endsWith("a") ? "b" : "a");
    const unknownPrefix = secret.replace(/^ory_ak_/, "zz_ak_");
    const { key, raw } = await importKey(s);
    expect((await s.request("DELETE", `${IMPORTED}/${key.key_id}`)).status).toBe(204);
    for (const credential of ["sk_live_never_imported", badChecksum, unknownPrefix, raw]) {
      expectEnvelope(await derive(s, { credential }), 401, "UNAUTHENTICATED", "UNAUTHORIZED", { message: "verify API key" });
    }
  });

  it("403 forbidden when the parent is revoked", async () => {
    const { key, secret } = await issue(s, { actor_id: actor("rv") });
    expect((await s.request("POST", `/v2alpha1/admin/issuedApiKeys/${key.key_id}:revoke`, {})).status).toBe(204);
    expectEnvelope(await derive(s, { credential: secret }), 403, "PERMISSION_DENIED", "FORBIDDEN", { message: "key is revoked" });
  });

  it("409 failed_precondition when the parent is expired", async () => {
    const { secret } = await issue(s, { actor_id: actor("ex"), ttl: "60s" });
    const { raw } = await importKey(s, { ttl: "60s" });
    clock.tick(60_000);
    for (const credential of [secret, raw]) {
      expectEnvelope(await derive(s, { credential }), 409, "FAILED_PRECONDITION", "FAILED_PRECONDITION", { message: "key is expired" });
    }
  });

  it("403 ip_not_allowed when the caller is outside the parent's CIDRs; the allowlist is sealed into acl", async () => {
    const cidrs = ["10.0.0.0/8", "2001:db8::/32"];
    const { secret } = await issue(s, { actor_id: actor("ip"), ip_restriction: { allowed_cidrs: cidrs } });
    expectEnvelope(await derive(s, { credential: secret }, "192.168.1.1"), 403, "PERMISSION_DENIED", "IP_NOT_ALLOWED");
    // the default client_ip_source is the socket peer: a forwarded header does not help
    const spoofed = await s.request("POST", DERIVE, { credential: secret }, { "X-Forwarded-For": "10.0.0.1" }, "192.168.1.1");
    expect(spoofed.status).toBe(403);
    for (const algorithm of ["TOKEN_ALGORITHM_JWT", "TOKEN_ALGORITHM_MACAROON"]) {
      const t = await deriveOk(s, { credential: secret, algorithm }, "10.20.30.40");
      expect(t.claims.acl).toEqual(cidrs);
      const ok = await verify(s, t.token, {}, "10.99.0.1");
      expect(ok.body.is_valid).toBe(true);
      expect(ok.headers.get("cache-control")).toBe("no-store");
      expect((await verify(s, t.token, {}, "2001:db8::5")).body.is_valid).toBe(true);
      expect((await verify(s, t.token, {}, "::ffff:10.1.1.1")).body.is_valid).toBe(true);
      const denied = await verify(s, t.token, {}, "192.168.1.1");
      expect(denied.body).toMatchObject({
        is_valid: false,
        status: "KEY_STATUS_UNSPECIFIED",
        error_code: "VERIFICATION_ERROR_IP_NOT_ALLOWED",
        key_id: t.claims.sub,
        scopes: t.scopes,
        visibility: "KEY_VISIBILITY_UNSPECIFIED",
        issuer: "",
      });
    }
    // an unrestricted parent seals nothing
    const open = await deriveOk(s, { credential: (await issue(s, { actor_id: actor("ip") })).secret });
    expect(open.claims).not.toHaveProperty("acl");
  });

  it("scopes: default to the parent's, accept a subset, 403 naming a scope the parent lacks", async () => {
    const { secret } = await issue(s, { actor_id: actor("sc"), scopes: ["read", "write", "admin:x"] });
    expect((await deriveOk(s, { credential: secret })).scopes).toEqual(["read", "write", "admin:x"]);
    expect((await deriveOk(s, { credential: secret, scopes: [] })).claims.scp).toEqual(["read", "write", "admin:x"]);
    const sub = await deriveOk(s, { credential: secret, scopes: ["write"] });
    expect(sub.scopes).toEqual(["write"]);
    expect(sub.claims.scp).toEqual(["write"]);
    expectEnvelope(await derive(s, { credential: secret, scopes: ["read", "delete"] }), 403, "PERMISSION_DENIED", "FORBIDDEN", {
      message: "requested scope 'delete' not available in parent key",
    });
    const none = await issue(s, { actor_id: actor("sc") });
    expect((await deriveOk(s, { credential: none.secret })).claims.scp).toEqual([]);
    expect((await derive(s, { credential: none.secret, scopes: ["read"] })).status).toBe(403);
  });

  it("ttl: default 1h, 400 above derived_tokens.max_ttl (24h)", async () => {
    const { secret } = await issue(s, { actor_id: actor("ttl") });
    const now = Math.floor(clock.now / 1000);
    const def = await deriveOk(s, { credential: secret });
    expect(def.claims.exp - def.claims.iat).toBe(3600);
    expect(def.claims.iat).toBe(now);
    expect(def.claims.nbf).toBe(now);
    expect(def.expire_time).toBe(rfc3339((now + 3600) * 1000));
    for (const [ttl, secs] of [["24h", 86_400], ["90s", 90], ["1d", 86_400], ["1800s", 1800], ["0s", 3600], ["", 3600]] as const) {
      const t = await deriveOk(s, { credential: secret, ttl });
      expect(t.claims.exp - t.claims.iat, ttl).toBe(secs);
    }
    expectBadRequest(await derive(s, { credential: secret, ttl: "24h1s" }), "ttl", "ttl exceeds the configured maximum of 24h");
    expectBadRequest(await derive(s, { credential: secret, ttl: "2d" }), "ttl", "ttl exceeds the configured maximum of 24h");
    expectBadRequest(await derive(s, { credential: secret, ttl: "-5s" }), "ttl");
    expectBadRequest(await derive(s, { credential: secret, ttl: "soon" }), "ttl");
    // a tiny non-zero ttl is below the 1 s minimum, not "use the default" (1h)
    for (const ttl of ["1ns", "100ns", "1us", "1µs", "0.0000000001s", "1ms", "0.5s"]) {
      expectBadRequest(await derive(s, { credential: secret, ttl }), "ttl", "ttl: must be between 1s and 315360000s");
    }
  });

  it("ttl: never beyond the parent's remaining lifetime", async () => {
    const { key, secret } = await issue(s, { actor_id: actor("life"), ttl: "2h" });
    const parentExpiry = Date.parse(key.expire_time);
    expectBadRequest(await derive(s, { credential: secret, ttl: "2h1s" }), "ttl", "ttl exceeds the parent key's remaining lifetime");
    const exact = await deriveOk(s, { credential: secret, ttl: "2h" });
    expect(exact.expire_time).toBe(key.expire_time);
    clock.tick(90 * 60_000);
    expectBadRequest(await derive(s, { credential: secret, ttl: "31m" }), "ttl", "ttl exceeds the parent key's remaining lifetime");
    // without a ttl the default (1h) is clamped to the parent's expiry
    const clamped = await deriveOk(s, { credential: secret });
    expect(clamped.expire_time).toBe(key.expire_time);
    expect(clamped.claims.exp * 1000).toBe(parentExpiry);
    expect((await verify(s, clamped.token)).body.is_valid).toBe(true);
  });

  it.each([...RESERVED_CLAIMS, "act"])("400 bad_request for the reserved custom claim %s", async (name) => {
    const { secret } = await issue(s, { actor_id: actor("rc") });
    expectBadRequest(await derive(s, { credential: secret, custom_claims: { fine: 1, [name]: "x" } }), "custom_claims", `custom_claims: "${name}" is a reserved claim name`);
  });

  it("custom_claims: up to 4096 bytes of JSON, 400 beyond, 400 when not an object", async () => {
    const { secret } = await issue(s, { actor_id: actor("cc") });
    const overhead = JSON.stringify({ blob: "" }).length;
    const max = await deriveOk(s, { credential: secret, custom_claims: { blob: "x".repeat(4096 - overhead) } });
    expect(max.claims.blob).toHaveLength(4096 - overhead);
    expectBadRequest(await derive(s, { credential: secret, custom_claims: { blob: "x".repeat(4097 - overhead) } }), "custom_claims", "custom_claims: must be at most 4096 bytes as JSON");
    expectBadRequest(await derive(s, { credential: secret, custom_claims: ["a"] }), "custom_claims");
    expectBadRequest(await derive(s, { credential: secret, custom_claims: "a" }), "custom_claims");
  });

  it("400 for an unknown algorithm; names and numbers are accepted", async () => {
    const { secret } = await issue(s, { actor_id: actor("alg") });
    expectBadRequest(await derive(s, { credential: secret, algorithm: "TOKEN_ALGORITHM_PASETO" }), "algorithm");
    expectBadRequest(await derive(s, { credential: secret, algorithm: 7 }), "algorithm");
    expect((await deriveOk(s, { credential: secret, algorithm: 2 })).token).toMatch(/^mc_v1_/);
    expect((await deriveOk(s, { credential: secret, algorithm: 1 })).token).toMatch(/^eyJ/);
    expect((await deriveOk(s, { credential: secret, algorithm: "TOKEN_ALGORITHM_UNSPECIFIED" })).token).toMatch(/^eyJ/);
  });
});

describe("JWT (docs/derived-tokens.md#jwt)", () => {
  it("EdDSA with kid and typ; the claim set; custom claims at top level; verifies against the served JWKS", async () => {
    const owner = actor("jwt");
    const { key, secret } = await issue(s, { actor_id: owner, scopes: ["read", "write"], metadata: { team: "blue" } });
    const t = await deriveOk(s, { credential: secret, scopes: ["read"], ttl: "10m", custom_claims: { tenant: "t1", nested: { a: [1, 2] } } });
    expect(decodeProtectedHeader(t.token)).toEqual({ alg: "EdDSA", kid: "key-1", typ: "JWT" });
    const iat = Math.floor(clock.now / 1000);
    expect(t.claims).toEqual({
      jti: t.claims.jti,
      sub: key.key_id,
      iss: TEST_ISSUER,
      iat,
      nbf: iat,
      exp: iat + 600,
      act: owner,
      nid: NID,
      scp: ["read"],
      meta: { team: "blue" },
      vis: "secret",
      tenant: "t1",
      nested: { a: [1, 2] },
    });
    expect(t.claims.jti).toMatch(UUID_V4);
    expect(t.scopes).toEqual(["read"]);
    expect(t.expire_time).toBe(rfc3339((iat + 600) * 1000));
    const jwks = createLocalJWKSet((await s.request("GET", JWKS)).body);
    const { payload } = await jwtVerify(t.token, jwks, { issuer: TEST_ISSUER, currentDate: new Date(clock.now) });
    expect(payload).toEqual(t.claims);
    const again = await deriveOk(s, { credential: secret });
    expect(again.claims.jti).not.toBe(t.claims.jti);
  });

  it("derives from imported keys (sub = the 64-hex key id) and marks public keys", async () => {
    const { key, raw } = await importKey(s, { scopes: ["x"] });
    const t = await deriveOk(s, { credential: raw });
    expect(t.claims.sub).toBe(key.key_id);
    expect(t.claims.sub).toMatch(/^[0-9a-f]{64}$/);
    expect(t.claims).not.toHaveProperty("meta");
    expect((await verify(s, t.token)).body).toMatchObject({ is_valid: true, key_id: key.key_id, scopes: ["x"], metadata: null });
    const pub = await issue(s, { actor_id: actor("pub"), visibility: "KEY_VISIBILITY_PUBLIC" });
    expect(pub.secret).toMatch(/^pk_v1_/);
    const pt = await deriveOk(s, { credential: pub.secret });
    expect(pt.claims.vis).toBe("public");
    expect((await verify(s, pt.token)).body.visibility).toBe("KEY_VISIBILITY_PUBLIC");
  });
});

describe("macaroon (docs/derived-tokens.md#macaroon)", () => {
  it("mc_v1_ + unpadded base64url of a V2 macaroon that the npm package verifies with the documented root key", async () => {
    const owner = actor("mac");
    const { key, secret } = await issue(s, { actor_id: owner, scopes: ["read"], metadata: { m: 1 } });
    const t = await deriveOk(s, { credential: secret, algorithm: "TOKEN_ALGORITHM_MACAROON", custom_claims: { c: true } });
    expect(t.token).toMatch(/^mc_v1_[A-Za-z0-9_-]+$/);
    const m = macaroon.importMacaroon(macaroon.base64ToBytes(t.token.slice("mc_v1_".length)));
    expect(m.location).toBe(TEST_ISSUER);
    expect(JSON.parse(Buffer.from(m.identifier).toString())).toEqual({ jti: t.claims.jti });
    const caveats: string[] = [];
    m.verify(rootKeyOf(TEST_SECRET), (c) => {
      caveats.push(c);
      return null;
    });
    expect(caveats).toHaveLength(1);
    expect(JSON.parse(caveats[0]!)).toEqual(t.claims);
    const iat = Math.floor(clock.now / 1000);
    expect(t.claims).toEqual({
      jti: t.claims.jti,
      sub: key.key_id,
      iss: TEST_ISSUER,
      iat,
      nbf: iat,
      exp: iat + 3600,
      act: owner,
      nid: NID,
      scp: ["read"],
      meta: { m: 1 },
      vis: "secret",
      c: true,
    });
  });
});

describe("verifying derived tokens (docs/verification.md#verify-response, docs/derived-tokens.md#jwt, docs/derived-tokens.md#macaroon)", () => {
  async function fixture(body: Record<string, unknown> = {}) {
    const owner = actor("vf");
    const issued = await issue(s, { actor_id: owner, scopes: ["read", "write"], metadata: { team: "a", tenant: "meta-wins" }, rate_limit_policy: { quota: 1, window: "60s" } });
    const jwt = await deriveOk(s, { credential: issued.secret, scopes: ["read"], custom_claims: { tenant: "t1", extra: 1 }, ...body });
    const mac = await deriveOk(s, { credential: issued.secret, algorithm: "TOKEN_ALGORITHM_MACAROON", scopes: ["read"], custom_claims: { tenant: "t1", extra: 1 }, ...body });
    return { owner, issued, jwt, mac };
  }

  it("valid tokens map claims to the response; no cache, no rate limit even when the parent has a policy", async () => {
    const { owner, issued, jwt, mac } = await fixture();
    for (const t of [jwt, mac]) {
      for (let i = 0; i < 3; i++) {
        const res = await verify(s, t.token);
        expect(res.body).toEqual({
          is_valid: true,
          status: "KEY_STATUS_ACTIVE",
          key_id: issued.key.key_id,
          actor_id: owner,
          scopes: ["read"],
          expire_time: t.expire_time,
          metadata: { tenant: "meta-wins", extra: 1, team: "a" },
          rate_limit_policy: null,
          visibility: "KEY_VISIBILITY_SECRET",
          issuer: TEST_ISSUER,
          error_code: "VERIFICATION_ERROR_UNSPECIFIED",
          error_message: "",
          rate_limit_remaining: "0",
          rate_limit_reset_time: null,
        });
        expect(res.headers.get("ory-talos-cache")).toBe("SKIP");
        expect(res.headers.get("ratelimit")).toBeNull();
        expect(res.headers.get("ratelimit-policy")).toBeNull();
        expect(res.headers.get("cache-control")).toBeNull();
      }
    }
  });

  it("stay valid after the parent is revoked (stateless) until exp", async () => {
    const { issued, jwt, mac } = await fixture();
    expect((await s.request("POST", `/v2alpha1/admin/issuedApiKeys/${issued.key.key_id}:revoke`, {})).status).toBe(204);
    expect((await verify(s, issued.secret)).body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    expect((await verify(s, jwt.token)).body.is_valid).toBe(true);
    expect((await verify(s, mac.token)).body.is_valid).toBe(true);
  });

  it("EXPIRED past exp: JWTs with clock-skew leeway, macaroons strictly; key fields populated", async () => {
    const { issued, jwt, mac } = await fixture({ ttl: "60s" });
    clock.tick(60_000);
    expect((await verify(s, jwt.token)).body.is_valid).toBe(true);
    const macExpired = await verify(s, mac.token);
    expect(macExpired.body).toMatchObject({ is_valid: false, status: "KEY_STATUS_EXPIRED", error_code: "VERIFICATION_ERROR_EXPIRED", key_id: issued.key.key_id });
    clock.tick(5 * 60_000 - 1000);
    expect((await verify(s, jwt.token)).body.is_valid).toBe(true);
    clock.tick(1000);
    const expired = await verify(s, jwt.token);
    expect(expired.body).toEqual({
      ...NOT_FOUND_VERIFICATION,
      status: "KEY_STATUS_EXPIRED",
      key_id: issued.key.key_id,
      actor_id: issued.key.actor_id,
      scopes: ["read"],
      expire_time: jwt.expire_time,
      metadata: { tenant: "meta-wins", extra: 1, team: "a" },
      error_code: "VERIFICATION_ERROR_EXPIRED",
      error_message: expired.body.error_message,
    });
  });

  it("SIGNATURE_INVALID: tampered JWT payload or signature, unknown kid, foreign key, alg none, HS256, crit", async () => {
    const { jwt } = await fixture();
    const [h, p, sig] = jwt.token.split(".") as [string, string, string];
    const forged = b64({ ...jwt.claims, scp: ["read", "write", "admin"] });
    const stranger = await generateSigningJwk("eddsa", { kid: "key-1" });
    const tokens = [
      `${h}.${forged}.${sig}`,
      `${h}.${p}.${sig.slice(0, 10)}${sig[10] === "A" ? "B" : "A"}${sig.slice(11)}`,
      await signWith(await generateSigningJwk("eddsa", { kid: "key-unknown" }), jwt.claims),
      await signWith(stranger, jwt.claims),
      `${b64({ alg: "none", typ: "JWT" })}.${p}.AAAA`,
      await new CompactSign(enc.encode(JSON.stringify(jwt.claims))).setProtectedHeader({ alg: "HS256", kid: "key-1" }).sign(enc.encode(TEST_SECRET)),
      await new CompactSign(enc.encode(JSON.stringify(jwt.claims)))
        .setProtectedHeader({ alg: "EdDSA", kid: "key-1", crit: ["exp"], exp: 1 })
        .sign(await importJWK(key1, "EdDSA"), { crit: { exp: true } }),
    ];
    for (const token of tokens) {
      const res = await verify(s, token);
      expectBareFailure(res.body, "VERIFICATION_ERROR_SIGNATURE_INVALID");
      expect(res.headers.get("ory-talos-cache")).toBe("SKIP");
    }
    // the same claims signed by the configured key are fine (the forgeries differ only in the key)
    expect((await verify(s, await signWith(key1, jwt.claims))).body.is_valid).toBe(true);
    expect((await verify(s, await signWith(key1, jwt.claims, { kid: undefined }))).body.is_valid).toBe(true);
  });

  it("INVALID_FORMAT: undecodable, nbf beyond the skew, tty other than derived; tty derived, akid and scope accepted", async () => {
    const { jwt, issued } = await fixture();
    const iat = Math.floor(clock.now / 1000);
    expectBareFailure((await verify(s, "eyJhbGciOiJFZERTQSJ9.eyJub3QganNvbg.AAAA")).body, "VERIFICATION_ERROR_INVALID_FORMAT");
    expectBareFailure((await verify(s, `${b64({ alg: "EdDSA", kid: "key-1" })}.${Buffer.from("not json").toString("base64url")}.AAAA`)).body, "VERIFICATION_ERROR_INVALID_FORMAT");
    expectBareFailure((await verify(s, await signWith(key1, { ...jwt.claims, nbf: iat + 301 }))).body, "VERIFICATION_ERROR_INVALID_FORMAT");
    expect((await verify(s, await signWith(key1, { ...jwt.claims, nbf: iat + 299 }))).body.is_valid).toBe(true);
    expectBareFailure((await verify(s, await signWith(key1, { ...jwt.claims, tty: "api_key" }))).body, "VERIFICATION_ERROR_INVALID_FORMAT");
    const { scp: _scp, ...noScp } = jwt.claims;
    const compat = await verify(s, await signWith(key1, { ...noScp, tty: "derived", akid: "ak-1", pid: "p", scope: "a b" }));
    expect(compat.body).toMatchObject({ is_valid: true, key_id: "ak-1", scopes: ["a", "b"] });
    expect(issued.key.key_id).not.toBe("ak-1");
  });

  it("NOT_FOUND for another issuer or network, with nothing else in the body", async () => {
    const { jwt } = await fixture();
    for (const claims of [{ ...jwt.claims, iss: "https://evil.test" }, { ...jwt.claims, nid: "11111111-1111-1111-1111-111111111111" }]) {
      expect((await verify(s, await signWith(key1, claims))).body).toEqual(NOT_FOUND_VERIFICATION);
      expect((await verify(s, npmMacaroon(claims))).body).toEqual(NOT_FOUND_VERIFICATION);
    }
  });

  it("macaroons: tampered → SIGNATURE_INVALID; undecodable, third-party or extra caveats → INVALID_FORMAT; reference-style mint verifies", async () => {
    const { mac } = await fixture();
    const m = macaroon.importMacaroon(macaroon.base64ToBytes(mac.token.slice(6)));
    const bytes = Buffer.from(m.exportBinary());
    const sigFlipped = Buffer.from(bytes);
    sigFlipped[sigFlipped.length - 1]! ^= 1;
    const caveatEdited = Buffer.from(bytes.toString("latin1").replace('"scp":["read"]', '"scp":["root"]'), "latin1");
    for (const t of [sigFlipped, caveatEdited]) {
      expectBareFailure((await verify(s, `mc_v1_${t.toString("base64url")}`)).body, "VERIFICATION_ERROR_SIGNATURE_INVALID");
    }
    expectBareFailure((await verify(s, npmMacaroon(mac.claims, { secret: "some-other-hmac-secret-0123456789abcdef" }))).body, "VERIFICATION_ERROR_SIGNATURE_INVALID");
    for (const t of ["mc_v1_", "mc_v1_AAAA", "mc_v1_$$$", `mc_v1_${bytes.subarray(0, 30).toString("base64url")}`, `mc_v1_${bytes.toString("base64")}==`]) {
      expectBareFailure((await verify(s, t)).body, "VERIFICATION_ERROR_INVALID_FORMAT");
    }
    expectBareFailure((await verify(s, npmMacaroon(mac.claims, { thirdParty: true }))).body, "VERIFICATION_ERROR_INVALID_FORMAT");
    expectBareFailure((await verify(s, npmMacaroon(mac.claims, { caveats: [JSON.stringify(mac.claims), "time < 2030"] }))).body, "VERIFICATION_ERROR_INVALID_FORMAT");
    expectBareFailure((await verify(s, npmMacaroon(mac.claims, { caveats: ["not json"] }))).body, "VERIFICATION_ERROR_INVALID_FORMAT");
    expect((await verify(s, npmMacaroon(mac.claims))).body).toMatchObject({ is_valid: true, key_id: mac.claims.sub });
  });

  it("never read storage, in verify and batchVerify, valid or not", async () => {
    const { jwt, mac } = await fixture();
    const bad = [`${jwt.token.slice(0, -4)}AAAA`, "mc_v1_AAAA", await signWith(key1, { ...jwt.claims, iss: "https://x" })];
    await s.built.runtime.lastUsed.flush(); // the fixture's own uses (derive) are written before counting
    const counter = countRepoCalls(s);
    for (const t of [jwt.token, mac.token, ...bad]) {
      expect((await verify(s, t)).headers.get("ory-talos-cache")).toBe("SKIP");
      expect((await verify(s, t, { "Cache-Control": "no-cache" })).headers.get("ory-talos-cache")).toBe("SKIP");
    }
    const batch = await s.request("POST", BATCH_VERIFY, { requests: [jwt, mac].map((t) => ({ credential: t.token })) });
    expect(batch.status).toBe(200);
    expect(batch.headers.get("ory-talos-cache")).toBe("SKIP");
    expect(batch.body.results.map((r: any) => r.is_valid)).toEqual([true, true]);
    await s.built.runtime.lastUsed.flush(); // whatever was queued for last_used is written now
    expect(counter.total()).toBe(0);
  });

  it("batchVerify mixes tokens and keys in request order", async () => {
    const { issued, jwt, mac } = await fixture();
    const imp = await importKey(s);
    const requests = [jwt.token, issued.secret, mac.token, "", `${jwt.token}x`.replace(/x$/, "A"), imp.raw, "mc_v1_AAAA"].map((credential) => ({ credential }));
    const res = await s.request("POST", BATCH_VERIFY, { requests });
    expect(res.status, res.text).toBe(200);
    expect(res.body.results.map((r: any) => [r.is_valid, r.error_code, r.key_id])).toEqual([
      [true, "VERIFICATION_ERROR_UNSPECIFIED", issued.key.key_id],
      [true, "VERIFICATION_ERROR_UNSPECIFIED", issued.key.key_id],
      [true, "VERIFICATION_ERROR_UNSPECIFIED", issued.key.key_id],
      [false, "VERIFICATION_ERROR_INVALID_FORMAT", ""],
      [false, "VERIFICATION_ERROR_SIGNATURE_INVALID", ""],
      [true, "VERIFICATION_ERROR_UNSPECIFIED", imp.key.key_id],
      [false, "VERIFICATION_ERROR_INVALID_FORMAT", ""],
    ]);
    expect(res.body.results[0].scopes).toEqual(["read"]);
    expect(res.body.results[1].scopes).toEqual(["read", "write"]);
    expect(res.headers.get("ory-talos-cache")).toBe("MISS");
  });

  it("self-revoke of a derived token answers 400 derived_token_not_revocable", async () => {
    const { jwt, mac } = await fixture();
    for (const t of [jwt, mac]) {
      expectEnvelope(await s.request("POST", SELF_REVOKE, { credential: t.token }), 400, "INVALID_ARGUMENT", "DERIVED_TOKEN_NOT_REVOCABLE");
      expect((await verify(s, t.token)).body.is_valid).toBe(true);
    }
  });
});

describe("JWKS (docs/derived-tokens.md#jwks)", () => {
  it("serves public members only, with Cache-Control, in all, admin and public modes", async () => {
    for (const mode of ["all", "admin", "public"] as const) {
      const res = await appFor(mode, s.deps).request(JWKS);
      expect(res.status, mode).toBe(200);
      expect(res.headers.get("cache-control")).toBe("public, max-age=300");
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await res.json()) as { keys: Record<string, unknown>[] };
      expect(body).toEqual({ keys: [{ kty: "OKP", kid: "key-1", use: "sig", alg: "EdDSA", crv: "Ed25519", x: key1.x }] });
      for (const m of PRIVATE_MEMBERS) expect(body.keys[0]).not.toHaveProperty(m);
    }
    expect((await s.request("GET", "/v2alpha1/admin/derivedKeys/jwks.json")).status).toBe(404);
  });
});

describe("without a usable signing key", () => {
  let bare: TestServer;
  let wrongId: TestServer;
  beforeAll(async () => {
    [bare, wrongId] = await Promise.all([
      startTestServer(),
      startTestServer({
        overrides: {
          [SIGNING_URLS]: [jwksBase64Url({ keys: [rsa, { kty: "oct", kid: "hmac", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0" }] })],
          "credentials.derived_tokens.jwt.signing_key_id": "missing",
        },
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([bare?.close(), wrongId?.close()]);
  });

  it("JWKS answers 500 no active signing keys found; JWT derive 500 with signing_key_id; macaroons still work", async () => {
    for (const mode of ["all", "admin", "public"] as const) {
      const res = await appFor(mode, bare.deps).request(JWKS);
      const body = (await res.json()) as any;
      expect(res.status).toBe(500);
      // the message names the setting to fix (issue 12, defect 9)
      expect(body.error).toMatchObject({
        code: 500,
        status: "INTERNAL",
        message: "no active signing keys found: set credentials.derived_tokens.jwt.signing_keys.urls to a JWKS holding an Ed25519 or RSA key",
      });
      expect(body.error.details[0].reason).toBe("INTERNAL_SERVER_ERROR");
      expect(res.headers.get("cache-control")).toBeNull();
    }
    const { secret } = await issue(bare, { actor_id: actor("nokey") });
    const e = expectEnvelope(await derive(bare, { credential: secret }), 500, "INTERNAL", "INTERNAL_SERVER_ERROR", {
      message: "no JWT signing key configured: set credentials.derived_tokens.jwt.signing_keys.urls to a JWKS holding a private Ed25519 or RSA key",
    });
    expect(e.details[0]!.metadata).toEqual({ signing_key_id: "" });
    const mac = await deriveOk(bare, { credential: secret, algorithm: "TOKEN_ALGORITHM_MACAROON" });
    expect((await verify(bare, mac.token)).body.is_valid).toBe(true);
    // a JWT from another server is unknown here
    const foreign = await deriveOk(s, { credential: (await issue(s, { actor_id: actor("nokey") })).secret });
    expectBareFailure((await verify(bare, foreign.token)).body, "VERIFICATION_ERROR_SIGNATURE_INVALID");
  });

  it("signing_key_id not found: JWT derive 500 naming it; the JWKS still lists the RSA key and never the oct key", async () => {
    const { secret } = await issue(wrongId, { actor_id: actor("wrongid") });
    const e = expectEnvelope(await derive(wrongId, { credential: secret }), 500, "INTERNAL", "INTERNAL_SERVER_ERROR", {
      message: 'signing key "missing" not found: set credentials.derived_tokens.jwt.signing_key_id to the kid of a private key in credentials.derived_tokens.jwt.signing_keys.urls',
    });
    expect(e.details[0]!.metadata).toEqual({ signing_key_id: "missing" });
    const jwks = await wrongId.request("GET", JWKS);
    expect(jwks.body).toEqual({ keys: [{ kty: "RSA", kid: "rsa-1", use: "sig", alg: "RS256", n: rsa.n, e: rsa.e }] });
  });
});

describe("rotation: signing keys, issuer, HMAC secret, macaroon prefix", () => {
  const NEW_ISSUER = "https://new.talos.test";
  const NEW_SECRET = "new-hmac-secret-0123456789abcdef-rotated";
  let b: TestServer;
  beforeAll(async () => {
    // B shares A's clock: tokens minted on A must be current on B
    b = await startTestServer({
      clock: clock.read,
      overrides: {
        // key-1 stays published for verification only; key-2 signs
        [SIGNING_URLS]: [jwksBase64Url({ keys: [publicOf(key1)] }), jwksBase64Url({ keys: [key2] })],
        "credentials.derived_tokens.jwt.signing_key_id": "key-2",
        "credentials.issuer": NEW_ISSUER,
        "credentials.issuer_retired": [{ value: TEST_ISSUER, expires_at: new Date(clock.now + 30 * 60_000).toISOString() }],
        "secrets.hmac.current": NEW_SECRET,
        "secrets.hmac.retired": [TEST_SECRET],
        "credentials.derived_tokens.macaroon.prefix.current": "tk",
        "credentials.derived_tokens.macaroon.prefix.retired": ["mc"],
        "credentials.derived_tokens.max_ttl": "0",
      },
    });
  });
  afterAll(async () => {
    await b?.close();
  });

  it("B publishes key-1 and key-2, signs with key-2; tokens A signed with key-1 verify on B", async () => {
    const jwks = await b.request("GET", JWKS);
    expect(jwks.body.keys.map((k: any) => k.kid)).toEqual(["key-1", "key-2"]);
    for (const k of jwks.body.keys) for (const m of PRIVATE_MEMBERS) expect(k).not.toHaveProperty(m);
    const { secret } = await issue(b, { actor_id: actor("rot") });
    const fresh = await deriveOk(b, { credential: secret });
    expect(decodeProtectedHeader(fresh.token).kid).toBe("key-2");
    expect(fresh.claims.iss).toBe(NEW_ISSUER);
    expect((await verify(b, fresh.token)).body).toMatchObject({ is_valid: true, issuer: NEW_ISSUER });
    // key-2 is unknown to A
    expectBareFailure((await verify(s, fresh.token)).body, "VERIFICATION_ERROR_SIGNATURE_INVALID");

    const fromA = await deriveOk(s, { credential: (await issue(s, { actor_id: actor("rot") })).secret });
    expect(decodeProtectedHeader(fromA.token).kid).toBe("key-1");
    expect((await verify(b, fromA.token)).body).toMatchObject({ is_valid: true, issuer: TEST_ISSUER });
  });

  it("macaroons minted with the retired HMAC secret and the retired prefix verify; new ones use tk_v1_", async () => {
    const fromA = await deriveOk(s, { credential: (await issue(s, { actor_id: actor("rot") })).secret, algorithm: "TOKEN_ALGORITHM_MACAROON" });
    expect(fromA.token).toMatch(/^mc_v1_/);
    expect((await verify(b, fromA.token)).body).toMatchObject({ is_valid: true, key_id: fromA.claims.sub });
    const { secret } = await issue(b, { actor_id: actor("rot") });
    const fresh = await deriveOk(b, { credential: secret, algorithm: "TOKEN_ALGORITHM_MACAROON" });
    expect(fresh.token).toMatch(/^tk_v1_/);
    const m = macaroon.importMacaroon(macaroon.base64ToBytes(fresh.token.slice("tk_v1_".length)));
    expect(() => m.verify(rootKeyOf(NEW_SECRET), () => null)).not.toThrow();
    expect((await verify(b, fresh.token)).body.is_valid).toBe(true);
    // A knows neither the new secret nor the tk prefix: tk_ routes as an unknown key there
    expect((await verify(s, fresh.token)).body.error_code).toBe("VERIFICATION_ERROR_NOT_FOUND");
    expectBareFailure((await verify(s, `mc_v1_${fresh.token.slice("tk_v1_".length)}`)).body, "VERIFICATION_ERROR_SIGNATURE_INVALID");
  });

  it("a retired issuer is accepted until its expires_at", async () => {
    const claims = { ...(await deriveOk(s, { credential: (await issue(s, { actor_id: actor("iss") })).secret })).claims };
    claims.iat = claims.nbf = Math.floor(clock.now / 1000);
    claims.exp = claims.iat + 3600;
    const jwt = await signWith(key1, claims);
    const mac = npmMacaroon(claims);
    expect((await verify(b, jwt)).body.is_valid).toBe(true);
    expect((await verify(b, mac)).body.is_valid).toBe(true);
    clock.tick(31 * 60_000);
    expect((await verify(b, jwt)).body).toEqual(NOT_FOUND_VERIFICATION);
    expect((await verify(b, mac)).body).toEqual(NOT_FOUND_VERIFICATION);
  });

  it("derived_tokens.max_ttl 0 leaves only the parent's lifetime as the bound", async () => {
    const { key, secret } = await issue(b, { actor_id: actor("nomax"), ttl: "30d" });
    expect((await deriveOk(b, { credential: secret, ttl: "29d" })).claims.exp - Math.floor(clock.now / 1000)).toBe(29 * 86_400);
    expectBadRequest(await derive(b, { credential: secret, ttl: "31d" }), "ttl", "ttl exceeds the parent key's remaining lifetime");
    expect(key.expire_time).not.toBeNull();
  });
});

describe.each(testDatabases())("derive and verify on the $name database", (db) => {
  let d: TestServer;
  beforeAll(async () => {
    d = await startOn(db, { overrides: { [SIGNING_URLS]: [jwksBase64Url({ keys: [key1] })] } });
  });
  afterAll(async () => {
    await d?.close();
  });

  it("issued and imported parents, both algorithms; revoked parent refuses; verification stays off the store", async () => {
    const issued = await issue(d, { actor_id: actor("db"), scopes: ["a"] });
    const imported = await importKey(d, { scopes: ["a"] });
    const tokens: string[] = [];
    for (const credential of [issued.secret, imported.raw]) {
      for (const algorithm of ["TOKEN_ALGORITHM_JWT", "TOKEN_ALGORITHM_MACAROON"]) {
        tokens.push((await deriveOk(d, { credential, algorithm })).token);
      }
    }
    const counter = countRepoCalls(d);
    const res = await d.request("POST", BATCH_VERIFY, { requests: tokens.map((credential) => ({ credential })) });
    expect(res.body.results.map((r: any) => r.key_id)).toEqual([issued.key.key_id, issued.key.key_id, imported.key.key_id, imported.key.key_id]);
    expect(res.body.results.every((r: any) => r.is_valid)).toBe(true);
    expect(counter.total()).toBe(0);
    expect((await d.request("POST", `${IMPORTED}/${imported.key.key_id}:revoke`, {})).status).toBe(204);
    expectEnvelope(await derive(d, { credential: imported.raw }), 403, "PERMISSION_DENIED", "FORBIDDEN", { message: "key is revoked" });
  });
});
