/**
 * `https://` signing-key URLs (docs/derived-tokens.md#jwks) against a real `talos serve` child: the
 * JWKS is fetched at start-up from a test HTTPS server whose certificate a test CA signed (trusted
 * through NODE_EXTRA_CA_CERTS), and an unreachable, untrusted or failing URL stops the start-up
 * with one clear line that never echoes the URL's query.
 */
import { createServer, type Server } from "node:https";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import type { JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2E_TIMEOUT_MS, fetchJson, runTalos, startTalos, stopAllTalos, tempDir } from "../support/process.js";
import { haveOpenssl, makeTestCa, type TestCa } from "../support/tls.js";

afterAll(stopAllTalos);

const serverEnv = (urls: string, extra: Record<string, string> = {}) => ({
  TALOS_DB_DSN: "memory",
  TALOS_SECRETS_HMAC_CURRENT: "https-keys-hmac-secret-0123456789abcdef",
  TALOS_CREDENTIALS_ISSUER: "https://t.test",
  TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: urls,
  ...extra,
});

if (haveOpenssl()) {
  describe("https:// signing-key URLs", () => {
    let ca: TestCa;
    let https: Server;
    let base: string;
    let jwks: { keys: JWK[] };
    let failing = false;
    const hits: string[] = [];

    beforeAll(async () => {
      ca = makeTestCa(tempDir("talos-ca-"));
      const gen = await runTalos(["jwk", "generate", "ecdsa", "--jwks", "--kid", "fetched"]);
      expect(gen.code, gen.stderr).toBe(0);
      jwks = JSON.parse(gen.stdout);
      https = createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
        hits.push(req.url ?? "");
        if (failing) res.writeHead(503).end("down");
        else if (req.url?.startsWith("/jwks.json")) {
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks));
        } else res.writeHead(404).end("no");
      });
      await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
      base = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => https?.close(() => r())));

    it("fetches the key set at start-up and serves and signs with it", { timeout: E2E_TIMEOUT_MS }, async () => {
      const talos = await startTalos({ args: ["serve"], env: serverEnv(`${base}/jwks.json?token=s3cret`, { NODE_EXTRA_CA_CERTS: ca.caFile }) });
      expect(hits).toContain("/jwks.json?token=s3cret");
      const served = await fetchJson(`${talos.apiUrl}/v2alpha1/derivedKeys/jwks.json`);
      const { d: _d, ...pub } = jwks.keys[0]!;
      expect(served.body).toEqual({ keys: [pub] });
      const issued = await fetchJson(`${talos.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { actor_id: "https-user" } });
      const derived = await fetchJson(`${talos.apiUrl}/v2alpha1/admin/apiKeys:derive`, { body: { credential: issued.body.secret } });
      expect(derived.status, derived.text).toBe(200);
      expect(JSON.parse(Buffer.from(derived.body.token.token.split(".")[0], "base64url").toString())).toMatchObject({ alg: "ES256", kid: "fetched" });
      expect(await talos.stop()).toBe(0);
    });

    it("is fetched again every refresh_interval; a failed refresh keeps the cached set", { timeout: E2E_TIMEOUT_MS }, async () => {
      const talos = await startTalos({
        args: ["serve"],
        env: serverEnv(`${base}/jwks.json`, { NODE_EXTRA_CA_CERTS: ca.caFile, TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_REFRESH_INTERVAL: "300ms" }),
      });
      const served = async () => (await fetchJson(`${talos.apiUrl}/v2alpha1/derivedKeys/jwks.json`)).body.keys.map((k: JWK) => k.kid);
      const waitFor = async (want: string[]) => {
        for (let i = 0; i < 100 && JSON.stringify(await served()) !== JSON.stringify(want); i++) await new Promise((r) => setTimeout(r, 100));
        expect(await served()).toEqual(want);
      };
      expect(await served()).toEqual(["fetched"]);
      const gen = await runTalos(["jwk", "generate", "eddsa", "--kid", "rotated-in"]);
      const original = jwks;
      jwks = { keys: [...original.keys, JSON.parse(gen.stdout)] };
      await waitFor(["fetched", "rotated-in"]);
      await talos.waitForLine(/JWT signing keys reloaded/);
      failing = true;
      await talos.waitForLine(/JWT signing keys not refreshed; keeping the last key set/);
      expect(await served()).toEqual(["fetched", "rotated-in"]);
      failing = false;
      jwks = original;
      await waitFor(["fetched"]);
      expect(await talos.stop()).toBe(0);
    });

    it("an untrusted certificate, a 404 or an unreachable host stops the start-up with one clear line", { timeout: E2E_TIMEOUT_MS }, async () => {
      const probe = createNetServer();
      await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
      const closed = `https://127.0.0.1:${(probe.address() as AddressInfo).port}/jwks.json`;
      await new Promise<void>((r) => probe.close(() => r()));
      const [untrusted, missing, unreachable] = await Promise.all([
        runTalos(["serve"], serverEnv(`${base}/jwks.json?token=s3cret`)),
        runTalos(["serve"], serverEnv(`${base}/nope.json?token=s3cret`, { NODE_EXTRA_CA_CERTS: ca.caFile })),
        runTalos(["serve"], serverEnv(closed)),
      ]);
      const field = "credentials.derived_tokens.jwt.signing_keys.urls[0]";
      expect(untrusted.code).toBe(1);
      expect(untrusted.stderr).toMatch(new RegExp(`${field.replace(/[.[\]]/g, "\\$&")}: cannot fetch ${base}/jwks\\.json \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\)`));
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`${field}: cannot fetch ${base}/nope.json (HTTP 404)`);
      expect(unreachable.code).toBe(1);
      expect(unreachable.stderr).toContain(`${field}: cannot fetch ${closed} (ECONNREFUSED)`);
      for (const r of [untrusted, missing, unreachable]) expect(r.stderr + r.stdout).not.toContain("s3cret");
    });
  });
} else {
  console.warn("\n!!! SKIPPED: test/e2e/signing-keys-https.test.ts — install openssl to make the test CA (CI has it).\n");
}
