import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureDevJwks } from "./dev-jwks.js";
import { generateSigningJwk, jwksBase64Url } from "./generate-jwk.js";
import { loadSigningKeys, signingKeysFromJwks, SigningKeyError } from "./signing-keys.js";
import { calculateJwkThumbprint } from "jose";

const dir = mkdtempSync(join(tmpdir(), "talos-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ed = await generateSigningJwk("eddsa", { kid: "ed-1" });
const rsa = await generateSigningJwk("rsa", { kid: "rsa-1" });
const PRIVATE = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

describe("loadSigningKeys", () => {
  it("reads standard and URL-safe base64, padded or not", async () => {
    const json = JSON.stringify({ keys: [ed] });
    const std = Buffer.from(json).toString("base64");
    const urlSafe = Buffer.from(json).toString("base64url");
    for (const url of [`base64://${std}`, `base64://${urlSafe}`, `base64://${std.replace(/=+$/, "")}`]) {
      const set = await loadSigningKeys([url]);
      expect(set.keys.map((k) => k.kid)).toEqual(["ed-1"]);
      expect(set.signer?.kid).toBe("ed-1");
    }
  });

  it("reads file:// URLs, absolute and relative to the working directory", async () => {
    const file = join(dir, "jwks.json");
    writeFileSync(file, JSON.stringify({ keys: [rsa] }));
    expect((await loadSigningKeys([`file://${file}`])).keys[0]?.kid).toBe("rsa-1");
    expect((await loadSigningKeys(["file://jwks.json"], { cwd: dir })).keys[0]?.kid).toBe("rsa-1");
    expect((await loadSigningKeys(["file://./jwks.json"], { cwd: dir })).keys[0]?.kid).toBe("rsa-1");
    const rel = relative(process.cwd(), file);
    expect((await loadSigningKeys([`file://${rel}`])).keys[0]?.kid).toBe("rsa-1");
  });

  it("accepts a single JWK document (talos jwk generate without --jwks)", async () => {
    const set = await loadSigningKeys([`base64://${Buffer.from(JSON.stringify(ed)).toString("base64")}`]);
    expect(set.signer?.kid).toBe("ed-1");
  });

  it.each([
    // https:// is fetched (test/e2e/signing-keys-https.test.ts); plain http never is
    ["http://example.com/jwks.json", /unsupported URL scheme "http"; use base64:\/\/, file:\/\/ or https:\/\//],
    ["/etc/jwks.json", /unsupported URL scheme/],
    ["base64://%%%", /not valid base64/],
    [`base64://${Buffer.from("not json").toString("base64")}`, /not a JSON Web Key Set/],
    [`base64://${Buffer.from('{"foo":1}').toString("base64")}`, /not a JSON Web Key Set/],
    ["file:///nonexistent/talos/jwks.json", /cannot read \/nonexistent\/talos\/jwks.json \(ENOENT\)/],
  ])("rejects %s at start-up", async (url, message) => {
    const err = await loadSigningKeys([url]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SigningKeyError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain("credentials.derived_tokens.jwt.signing_keys.urls[0]");
  });

  it("never puts key material in error messages", async () => {
    const broken = { ...ed, x: "AAAA" };
    const err = (await loadSigningKeys([jwksBase64Url({ keys: [broken] })]).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(SigningKeyError);
    expect(err.message).toContain('key "ed-1"');
    expect(err.message).not.toContain(ed.d!);
  });

  it("rejects a private part that does not belong to the public key", async () => {
    const other = await generateSigningJwk("eddsa");
    await expect(signingKeysFromJwks([{ keys: [{ ...ed, d: other.d }] }])).rejects.toThrow(SigningKeyError);
    const otherRsa = await generateSigningJwk("rsa");
    const mixed = { ...otherRsa, kid: "mixed", n: rsa.n, e: rsa.e };
    await expect(signingKeysFromJwks([{ keys: [mixed] }])).rejects.toThrow(/key "mixed": (the private part does not match|invalid RSA key material)/);
  });

  it("rejects RSA keys under 2048 bits", async () => {
    const small = { kty: "RSA", kid: "small", n: Buffer.alloc(128, 1).toString("base64url"), e: "AQAB" };
    await expect(signingKeysFromJwks([{ keys: [small] }])).rejects.toThrow(/at least 2048 bits/);
  });
});

describe("published JWKS", () => {
  it("holds only public members of asymmetric keys; oct and unsupported keys are skipped with a warning", async () => {
    const oct = { kty: "oct", kid: "hmac", k: "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0" };
    const ec = { kty: "EC", kid: "ec", crv: "P-384", x: "x", y: "y" }; // P-256 signs ES256 (below)
    const set = await signingKeysFromJwks([{ keys: [oct, ed, ec, rsa] }]);
    expect(set.jwks.keys.map((k) => k.kid)).toEqual(["ed-1", "rsa-1"]);
    for (const k of set.jwks.keys) for (const m of PRIVATE) expect(k).not.toHaveProperty(m);
    expect(set.jwks.keys[0]).toEqual({ kty: "OKP", kid: "ed-1", use: "sig", alg: "EdDSA", crv: "Ed25519", x: ed.x });
    expect(set.jwks.keys[1]).toEqual({ kty: "RSA", kid: "rsa-1", use: "sig", alg: "RS256", n: rsa.n, e: rsa.e });
    expect(set.warnings.join("\n")).toMatch(/symmetric \(oct\)/);
    expect(set.warnings.join("\n")).toMatch(/EC curve "P-384" is not supported/);
    expect(set.warnings.join("\n")).not.toContain(oct.k);
  });

  it("signs RSA with RS256 and Ed25519 with EdDSA whatever alg the JWK declares", async () => {
    const set = await signingKeysFromJwks([{ keys: [{ ...rsa, alg: "PS512" }, { ...ed, alg: "Ed25519" }] }]);
    expect(set.keys.map((k) => k.alg)).toEqual(["RS256", "EdDSA"]);
    expect(set.jwks.keys.map((k) => k.alg)).toEqual(["RS256", "EdDSA"]);
  });

  it("defaults use to sig and kid to the RFC 7638 thumbprint", async () => {
    const { kid: _kid, use: _use, alg: _alg, ...bare } = ed;
    const set = await signingKeysFromJwks([{ keys: [bare] }]);
    expect(set.jwks.keys[0]!.kid).toBe(await calculateJwkThumbprint({ kty: "OKP", crv: "Ed25519", x: ed.x! }));
    expect(set.jwks.keys[0]!.use).toBe("sig");
  });

  it("is empty when nothing is configured", async () => {
    const set = await loadSigningKeys([]);
    expect(set.jwks.keys).toEqual([]);
    expect(set.signer).toBeNull();
    expect(set.signerProblem).toBe("no JWT signing key configured");
  });
});

describe("signer selection (docs/derived-tokens.md#jwt)", () => {
  const publicOnly = (k: typeof ed) => ({ kty: k.kty, crv: k.crv, x: k.x, kid: `${k.kid}-pub` });

  it("picks signing_key_id when set", async () => {
    const set = await signingKeysFromJwks([{ keys: [ed, rsa] }], "rsa-1");
    expect(set.signer?.kid).toBe("rsa-1");
  });

  it("reports a missing or public-only signing_key_id and has no signer", async () => {
    const missing = await signingKeysFromJwks([{ keys: [ed] }], "nope");
    expect(missing.signer).toBeNull();
    expect(missing.signerProblem).toBe('signing key "nope" not found');
    const pub = await signingKeysFromJwks([{ keys: [publicOnly(ed)] }], "ed-1-pub");
    expect(pub.signer).toBeNull();
    expect(pub.signerProblem).toMatch(/no private part/);
    expect(pub.jwks.keys).toHaveLength(1);
  });

  it("prefers the first key declaring use sig, else the first key with a private part", async () => {
    const { use: _u, ...edNoUse } = ed;
    const set = await signingKeysFromJwks([{ keys: [publicOnly(ed), edNoUse, rsa] }]);
    expect(set.signer?.kid).toBe("rsa-1");
    const plain = await signingKeysFromJwks([{ keys: [publicOnly(ed), edNoUse] }]);
    expect(plain.signer?.kid).toBe("ed-1");
  });

  it("ignores keys meant for encryption", async () => {
    const set = await signingKeysFromJwks([{ keys: [{ ...ed, use: "enc" }] }]);
    expect(set.keys).toEqual([]);
    expect(set.warnings[0]).toMatch(/use "enc"/);
  });
});

describe("dev-mode key", () => {
  it("is generated once with mode 0600 and reused", async () => {
    const devDir = join(dir, "dev", ".talos");
    const first = await ensureDevJwks(devDir);
    expect(first.created).toBe(true);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    const again = await ensureDevJwks(devDir);
    expect(again.created).toBe(false);
    expect(again.url).toBe(first.url);
    const a = await loadSigningKeys([first.url]);
    const b = await loadSigningKeys([again.url]);
    expect(a.signer?.alg).toBe("EdDSA");
    expect(b.jwks).toEqual(a.jwks);
    expect(JSON.parse(readFileSync(first.file, "utf8")).keys[0].d).toBeTypeOf("string");
  });
});
