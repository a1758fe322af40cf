import { describe, expect, it } from "vitest";
import { CompactSign, decodeProtectedHeader, generateKeyPair } from "jose";
import { VerificationError } from "../types.js";
import { generateSigningJwk } from "./generate-jwk.js";
import { signJwt, verifyJwtSignature } from "./jwt.js";
import { signingKeysFromJwks } from "./signing-keys.js";

const ed = await generateSigningJwk("eddsa", { kid: "ed" });
const rsa = await generateSigningJwk("rsa", { kid: "rsa" });
const set = await signingKeysFromJwks([{ keys: [ed, rsa] }]);
const claims = { sub: "k", exp: 2_000_000_000 };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

describe("JWT signing", () => {
  it("signs EdDSA and RS256 with kid and typ JWT", async () => {
    for (const key of set.keys) {
      const token = await signJwt(claims, key);
      expect(decodeProtectedHeader(token)).toEqual({ alg: key.alg, kid: key.kid, typ: "JWT" });
      expect(await verifyJwtSignature(token, set)).toEqual({ ok: true, claims });
    }
  });
});

describe("JWT signature verification", () => {
  const edKey = set.keys[0]!;

  it("rejects a tampered payload or signature", async () => {
    const [h, , s] = (await signJwt(claims, edKey)).split(".");
    expect(await verifyJwtSignature(`${h}.${b64({ ...claims, sub: "other" })}.${s}`, set)).toMatchObject({ ok: false, code: VerificationError.SIGNATURE_INVALID });
    const token = await signJwt(claims, edKey);
    const flipped = token.slice(0, -2) + (token.at(-2) === "A" ? "B" : "A") + token.at(-1);
    expect(await verifyJwtSignature(flipped, set)).toMatchObject({ ok: false, code: VerificationError.SIGNATURE_INVALID });
  });

  it("rejects an unknown kid and a key of another type under a known kid", async () => {
    const stranger = await signingKeysFromJwks([{ keys: [await generateSigningJwk("eddsa", { kid: "ed" })] }]);
    expect(await verifyJwtSignature(await signJwt(claims, stranger.keys[0]!), set)).toMatchObject({ code: VerificationError.SIGNATURE_INVALID });
    const other = await signingKeysFromJwks([{ keys: [await generateSigningJwk("eddsa", { kid: "nope" })] }]);
    expect(await verifyJwtSignature(await signJwt(claims, other.keys[0]!), set)).toMatchObject({ code: VerificationError.SIGNATURE_INVALID });
    const rsaUnderEdKid = await signingKeysFromJwks([{ keys: [{ ...rsa, kid: "ed" }] }]);
    expect(await verifyJwtSignature(await signJwt(claims, rsaUnderEdKid.keys[0]!), set)).toMatchObject({ code: VerificationError.SIGNATURE_INVALID });
  });

  it("tries every key of the matching type when there is no kid", async () => {
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg: "RS256" }).sign(set.keys[1]!.signKey!);
    expect(await verifyJwtSignature(token, set)).toEqual({ ok: true, claims });
  });

  it.each(["none", "HS256", "ES256", "PS256", "RS512", "Ed25519"])("rejects alg %s", async (alg) => {
    const token = `${b64({ alg, kid: "ed" })}.${b64(claims)}.${alg === "none" ? "" : "c2ln"}`;
    expect(await verifyJwtSignature(token, set)).toMatchObject({ ok: false, code: VerificationError.SIGNATURE_INVALID });
  });

  it("rejects an HS256 token keyed with the public key (algorithm confusion)", async () => {
    const hs = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: "HS256", kid: "ed" })
      .sign(new TextEncoder().encode(ed.x!));
    expect(await verifyJwtSignature(hs, set)).toMatchObject({ code: VerificationError.SIGNATURE_INVALID });
  });

  it("rejects a crit header even with a valid signature", async () => {
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: "EdDSA", kid: "ed", crit: ["exp"], exp: 1 })
      .sign(edKey.signKey!, { crit: { exp: true } });
    expect(await verifyJwtSignature(token, set)).toMatchObject({ ok: false, code: VerificationError.SIGNATURE_INVALID });
  });

  it.each([
    ["three parts of junk", "eyJ.eyJ.x"],
    ["a header that is not an object", `${b64([1])}.${b64(claims)}.c2ln`],
    ["a payload that is not JSON", `${b64({ alg: "EdDSA" })}.bm90IGpzb24.c2ln`],
  ])("answers INVALID_FORMAT for %s", async (_n, token) => {
    expect(await verifyJwtSignature(token, set)).toMatchObject({ ok: false, code: VerificationError.INVALID_FORMAT });
  });

  it("refuses to sign without a private part", async () => {
    const { privateKey: _p, publicKey } = await generateKeyPair("Ed25519");
    await expect(signJwt(claims, { ...edKey, verifyKey: publicKey, signKey: null })).rejects.toThrow(/no private part/);
  });
});
