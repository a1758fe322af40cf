/**
 * `talos jwk generate ecdsa|hmac` as a child process (docs/cli.md#server-commands), and ES256 end to
 * end: the printed key configures a server that derives ES256 JWTs, serves the EC public key in its
 * JWKS and verifies the tokens, and a consumer verifies them offline with jose.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { startTestServer } from "../support/harness.js";
import { E2E_TIMEOUT_MS, runTalos } from "../support/process.js";

async function generate(args: string[]): Promise<string> {
  const r = await runTalos(["jwk", "generate", ...args]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe("talos jwk generate ecdsa|hmac", () => {
  it("prints an EC P-256 key, an HMAC key, and refuses bad sizes", { timeout: E2E_TIMEOUT_MS }, async () => {
    const [ec, hmac, hs512, bad, badEc] = await Promise.all([
      generate(["ecdsa", "--kid", "ec"]),
      generate(["hmac"]),
      generate(["hmac", "--bits", "512", "--jwks"]),
      runTalos(["jwk", "generate", "hmac", "--bits", "128"]),
      runTalos(["jwk", "generate", "ecdsa", "--bits", "2048"]),
    ]);
    expect(JSON.parse(ec)).toMatchObject({ kty: "EC", crv: "P-256", kid: "ec", use: "sig", alg: "ES256", x: expect.any(String), y: expect.any(String), d: expect.any(String) });
    const h = JSON.parse(hmac) as JWK;
    expect(h).toMatchObject({ kty: "oct", use: "sig", alg: "HS256" });
    expect(Buffer.from(h.k!, "base64url")).toHaveLength(32);
    expect((JSON.parse(hs512) as { keys: JWK[] }).keys[0]).toMatchObject({ kty: "oct", alg: "HS512" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("error: --bits for hmac keys must be one of 256, 384, 512\n");
    expect(badEc.code).toBe(2);
    expect(badEc.stderr).toBe("error: --bits applies to rsa and hmac keys only\n");
  });

  it("an ecdsa key printed with --base64 signs ES256 tokens the server verifies and jose verifies offline", { timeout: E2E_TIMEOUT_MS }, async () => {
    const url = (await generate(["ecdsa", "--base64", "--kid", "es-e2e"])).trim();
    const hmacUrl = (await generate(["hmac", "--base64", "--kid", "never-served"])).trim();
    const s = await startTestServer({ overrides: { "credentials.derived_tokens.jwt.signing_keys.urls": [url, hmacUrl] } });
    try {
      const issued = await s.request("POST", "/v2alpha1/admin/issuedApiKeys", { actor_id: "es-user" });
      const d = await s.request("POST", "/v2alpha1/admin/apiKeys:derive", { credential: issued.body.secret, scopes: [] });
      expect(d.status, d.text).toBe(200);
      const token: string = d.body.token.token;
      expect(decodeProtectedHeader(token)).toEqual({ alg: "ES256", kid: "es-e2e", typ: "JWT" });
      const v = await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: token });
      expect(v.body).toMatchObject({ is_valid: true, actor_id: "es-user" });
      const jwks = await s.request("GET", "/v2alpha1/derivedKeys/jwks.json");
      expect(jwks.body.keys).toEqual([{ kty: "EC", kid: "es-e2e", use: "sig", alg: "ES256", crv: "P-256", x: expect.any(String), y: expect.any(String) }]);
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.body), { issuer: s.config.credentials.issuer, algorithms: ["ES256"] });
      expect(payload.act).toBe("es-user");
      // a tampered payload fails on the server too
      const [h, , sig] = token.split(".");
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, act: "mallory" })).toString("base64url")}.${sig}`;
      expect((await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: forged })).body.is_valid).toBe(false);
    } finally {
      await s.close();
    }
  });
});
