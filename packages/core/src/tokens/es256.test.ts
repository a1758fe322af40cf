/** ECDSA P-256 signing keys (ES256) and generated HMAC keys (docs/derived-tokens.md#jwt). */
import { createLocalJWKSet, jwtVerify, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { VerificationError } from "../types.js";
import { generateSigningJwk } from "./generate-jwk.js";
import { signJwt, verifyJwtSignature } from "./jwt.js";
import { signingKeysFromJwks, SigningKeyError } from "./signing-keys.js";

const claims = { sub: "k", iss: "https://talos.test", exp: Math.floor(Date.now() / 1000) + 60 };

describe("ES256", () => {
  it("an ecdsa key signs ES256 JWTs that the key set and jose verify offline; the JWKS holds only x, y", async () => {
    const ec = await generateSigningJwk("ecdsa", { kid: "ec-1" });
    expect(ec).toMatchObject({ kty: "EC", crv: "P-256", kid: "ec-1", use: "sig", alg: "ES256" });
    expect(ec.d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const set = await signingKeysFromJwks([{ keys: [ec] }]);
    expect(set.signer?.alg).toBe("ES256");
    expect(set.jwks.keys).toEqual([{ kty: "EC", kid: "ec-1", use: "sig", alg: "ES256", crv: "P-256", x: ec.x, y: ec.y }]);
    const token = await signJwt(claims, set.signer!);
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString())).toEqual({ alg: "ES256", kid: "ec-1", typ: "JWT" });
    expect(await verifyJwtSignature(token, set)).toEqual({ ok: true, claims });
    const { payload } = await jwtVerify(token, createLocalJWKSet(set.jwks as { keys: JWK[] }), { algorithms: ["ES256"] });
    expect(payload).toEqual(claims);
  });

  it("a public-only EC key verifies but does not sign; a foreign private part is refused", async () => {
    const a = await generateSigningJwk("ecdsa", { kid: "a" });
    const b = await generateSigningJwk("ecdsa", { kid: "a" });
    const { d: _d, ...pub } = a;
    const verifyOnly = await signingKeysFromJwks([{ keys: [pub] }]);
    expect(verifyOnly.signer).toBeNull();
    const signed = await signJwt(claims, (await signingKeysFromJwks([{ keys: [a] }])).signer!);
    expect(await verifyJwtSignature(signed, verifyOnly)).toEqual({ ok: true, claims });
    const forged = await signJwt(claims, (await signingKeysFromJwks([{ keys: [b] }])).signer!);
    expect(await verifyJwtSignature(forged, verifyOnly)).toMatchObject({ ok: false, code: VerificationError.SIGNATURE_INVALID });
    // WebCrypto already refuses a d that does not belong to x, y; either way no key material in the message
    const mismatch = await signingKeysFromJwks([{ keys: [{ ...pub, d: b.d }] }]).catch((e: Error) => e);
    expect(mismatch).toBeInstanceOf(SigningKeyError);
    expect((mismatch as Error).message).not.toContain(b.d);
    await expect(signingKeysFromJwks([{ keys: [{ ...pub, y: undefined }] }])).rejects.toThrow(SigningKeyError);
  });

  it("an ES256 token is not accepted under an EdDSA key's kid (no algorithm confusion)", async () => {
    const ed = await generateSigningJwk("eddsa", { kid: "same" });
    const ec = await generateSigningJwk("ecdsa", { kid: "same" });
    const edOnly = await signingKeysFromJwks([{ keys: [ed] }]);
    const token = await signJwt(claims, (await signingKeysFromJwks([{ keys: [ec] }])).signer!);
    expect(await verifyJwtSignature(token, edOnly)).toMatchObject({ ok: false, code: VerificationError.SIGNATURE_INVALID });
  });
});

describe("generated HMAC keys", () => {
  it.each([
    [undefined, "HS256", 32],
    [384, "HS384", 48],
    [512, "HS512", 64],
  ] as const)("bits %s give %s with a %i-byte key that the server never publishes", async (bits, alg, bytes) => {
    const k = await generateSigningJwk("hmac", { bits });
    expect(k).toMatchObject({ kty: "oct", use: "sig", alg });
    expect(Buffer.from(k.k!, "base64url")).toHaveLength(bytes);
    const set = await signingKeysFromJwks([{ keys: [k] }]);
    expect(set.keys).toEqual([]);
    expect(set.warnings.join("\n")).not.toContain(k.k);
  });

  it("refuses other sizes", async () => {
    await expect(generateSigningJwk("hmac", { bits: 128 })).rejects.toThrow("HMAC key size must be one of 256, 384, 512");
  });
});
