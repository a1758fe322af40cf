/**
 * Derived tokens against the real `talos` binary (docs/derived-tokens.md, docs/cli.md#server-commands, docs/compatibility.md#derived-token-compatibility): a consumer verifies
 * JWTs offline with a standard JWKS client, macaroons with the npm `macaroon` package, the Ory SDK
 * derives, and keys printed by `talos jwk generate` configure a server.
 */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from "jose";
import macaroon from "macaroon";
import { ApiKeysApi, Configuration } from "@ory/client";
import { fetchJson, runTalos, startTalos, stopAllTalos, tempDir, type TalosProcess } from "../support/process.js";
import { startTestServer } from "../support/harness.js";

afterAll(stopAllTalos);

const SECRET = `e2e-hmac-secret-${randomUUID()}`;
const ISSUER = "https://e2e.talos.test";
const DERIVE = "/v2alpha1/admin/apiKeys:derive";
const ISSUE = "/v2alpha1/admin/issuedApiKeys";
const VERIFY = "/v2alpha1/admin/apiKeys:verify";
const JWKS = "/v2alpha1/derivedKeys/jwks.json";

async function generate(args: string[]): Promise<string> {
  const r = await runTalos(["jwk", "generate", ...args]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

const decodeBase64Url = (url: string) => JSON.parse(Buffer.from(url.trim().slice("base64://".length), "base64").toString("utf8")) as { keys: JWK[] };

describe("talos jwk generate", () => {
  it("eddsa --jwks prints a private Ed25519 JWK Set with the thumbprint as kid", async () => {
    const out = JSON.parse(await generate(["eddsa", "--jwks"])) as { keys: JWK[] };
    expect(out.keys).toHaveLength(1);
    const k = out.keys[0]!;
    expect(k).toMatchObject({ kty: "OKP", crv: "Ed25519", use: "sig", alg: "EdDSA" });
    expect(k.d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(k.kid).toBe(await calculateJwkThumbprint({ kty: "OKP", crv: "Ed25519", x: k.x! }));
  });

  it("rsa --bits 2048 --base64 prints a base64:// JWKS URL; --kid sets the key id; bare output is one JWK", async () => {
    const set = decodeBase64Url(await generate(["rsa", "--bits", "2048", "--base64"]));
    const k = set.keys[0]!;
    expect(k).toMatchObject({ kty: "RSA", use: "sig", alg: "RS256", e: "AQAB" });
    expect(Buffer.from(k.n!, "base64url")).toHaveLength(256);
    for (const m of ["d", "p", "q", "dp", "dq", "qi"] as const) expect(k[m]).toBeTypeOf("string");
    const named = JSON.parse(await generate(["--kid", "x"])) as JWK;
    expect(named).toMatchObject({ kty: "OKP", kid: "x" });
  });

  it("exits 2 on usage errors", async () => {
    const cases = [["ec"], ["rsa", "--bits", "1024"], ["eddsa", "--bits", "2048"]];
    const results = await Promise.all(cases.map((args) => runTalos(["jwk", "generate", ...args])));
    for (const [i, r] of results.entries()) {
      expect(r.code, cases[i]!.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^error: /);
    }
  });

  it("an RSA key printed with --base64 signs RS256 tokens that the server verifies", { timeout: 90_000 }, async () => {
    const url = (await generate(["rsa", "--bits", "2048", "--base64", "--kid", "rsa-e2e"])).trim();
    const s = await startTestServer({ overrides: { "credentials.derived_tokens.jwt.signing_keys.urls": [url] } });
    try {
      const issued = await s.request("POST", ISSUE, { actor_id: "rsa-user" });
      const d = await s.request("POST", DERIVE, { credential: issued.body.secret });
      expect(d.status, d.text).toBe(200);
      expect(decodeProtectedHeader(d.body.token.token)).toEqual({ alg: "RS256", kid: "rsa-e2e", typ: "JWT" });
      expect((await s.request("POST", VERIFY, { credential: d.body.token.token })).body.is_valid).toBe(true);
      const jwks = await s.request("GET", JWKS);
      const { payload } = await jwtVerify(d.body.token.token, createLocalJWKSet(jwks.body), { issuer: "https://talos.test" });
      expect(payload.act).toBe("rsa-user");
    } finally {
      await s.close();
    }
  });
});

describe("talos serve: offline verification by consumers", () => {
  let talos: TalosProcess;
  let secret: string;

  beforeAll(async () => {
    const url = (await generate(["eddsa", "--base64", "--kid", "e2e-key"])).trim();
    talos = await startTalos({
      args: ["serve"],
      env: {
        TALOS_DB_DSN: "memory",
        TALOS_SECRETS_HMAC_CURRENT: SECRET,
        TALOS_CREDENTIALS_ISSUER: ISSUER,
        TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: url,
      },
    });
    const issued = await fetchJson(`${talos.apiUrl}${ISSUE}`, { body: { actor_id: "offline-user", scopes: ["read", "write"], metadata: { plan: "pro" } } });
    expect(issued.status, issued.text).toBe(201);
    secret = issued.body.secret;
  });

  it("a derived JWT verifies with jose createRemoteJWKSet + jwtVerify against the server's JWKS URL", async () => {
    const d = await fetchJson(`${talos.apiUrl}${DERIVE}`, { body: { credential: secret, scopes: ["read"], ttl: "15m", custom_claims: { tenant: "acme" } } });
    expect(d.status, d.text).toBe(200);
    const jwksUrl = new URL(`${talos.apiUrl}${JWKS}`);
    const head = await fetch(jwksUrl);
    expect(head.headers.get("cache-control")).toBe("public, max-age=300");
    const { payload, protectedHeader } = await jwtVerify(d.body.token.token, createRemoteJWKSet(jwksUrl), { issuer: ISSUER, algorithms: ["EdDSA"] });
    expect(protectedHeader).toEqual({ alg: "EdDSA", kid: "e2e-key", typ: "JWT" });
    expect(payload).toMatchObject({ iss: ISSUER, act: "offline-user", scp: ["read"], meta: { plan: "pro" }, tenant: "acme", nid: "00000000-0000-0000-0000-000000000000" });
    expect(payload.exp! - payload.iat!).toBe(900);
    await expect(jwtVerify(d.body.token.token, createRemoteJWKSet(jwksUrl), { issuer: "https://someone-else" })).rejects.toThrow();
  });

  it("a derived macaroon verifies with the npm macaroon package and the documented root key", async () => {
    const d = await fetchJson(`${talos.apiUrl}${DERIVE}`, { body: { credential: secret, algorithm: "TOKEN_ALGORITHM_MACAROON" } });
    expect(d.status, d.text).toBe(200);
    const token: string = d.body.token.token;
    expect(token).toMatch(/^mc_v1_[A-Za-z0-9_-]+$/);
    const rootKey = createHmac("sha256", Buffer.from(SECRET, "utf8")).update("talos/macaroon/v1/root-key").digest();
    const m = macaroon.importMacaroon(macaroon.base64ToBytes(token.slice("mc_v1_".length)));
    const seen: Record<string, unknown>[] = [];
    m.verify(rootKey, (caveat) => {
      seen.push(JSON.parse(caveat) as Record<string, unknown>);
      return null;
    });
    expect(m.location).toBe(ISSUER);
    expect(seen).toEqual([d.body.token.claims]);
    expect(seen[0]).toMatchObject({ iss: ISSUER, act: "offline-user", scp: ["read", "write"] });
    const v = await fetchJson(`${talos.apiUrl}${VERIFY}`, { body: { credential: token } });
    expect(v.body).toMatchObject({ is_valid: true, actor_id: "offline-user", issuer: ISSUER });
    expect(v.headers.get("ory-talos-cache")).toBe("SKIP");
  });

  it("the Ory SDK derives a token and reads the JWKS", async () => {
    const api = new ApiKeysApi(new Configuration({ basePath: talos.apiUrl }));
    const { data } = await api.adminDeriveToken({
      deriveTokenRequest: { credential: secret, algorithm: "TOKEN_ALGORITHM_JWT", ttl: "600s", scopes: ["write"], custom_claims: { via: "sdk" } },
    });
    const t = data.token!;
    expect(t.scopes).toEqual(["write"]);
    expect(typeof t.token).toBe("string");
    expect(Date.parse(t.expire_time!) - Date.now()).toBeGreaterThan(590_000);
    expect(t.claims).toMatchObject({ scp: ["write"], via: "sdk", iss: ISSUER });
    const verified = await api.adminVerifyApiKey({ verifyApiKeyRequest: { credential: t.token! } });
    expect(verified.data).toMatchObject({ is_valid: true, scopes: ["write"], issuer: ISSUER });
    const mac = await api.adminDeriveToken({ deriveTokenRequest: { credential: secret, algorithm: "TOKEN_ALGORITHM_MACAROON" } });
    expect(mac.data.token!.token).toMatch(/^mc_v1_/);
    const err = await api.adminDeriveToken({ deriveTokenRequest: { credential: secret, scopes: ["admin"] } }).catch((e: { response: { status: number; data: any } }) => e.response);
    expect(err.status).toBe(403);
    expect(err.data.error.message).toBe("requested scope 'admin' not available in parent key");
    // docs/compatibility.md#derived-token-compatibility: getJwks resolves with the bare key set (data.keys, not data.jwks)
    const jwks = await api.getJwks();
    expect((jwks.data as unknown as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual(["e2e-key"]);
  });

  it("stops with exit code 0 on SIGTERM", async () => {
    expect(await talos.stop("SIGTERM")).toBe(0);
  });
});

describe("talos serve --dev: generated signing key", () => {
  it("is created once under ./.talos/jwks.json (mode 0600) and reused after a restart", async () => {
    const dir = tempDir("talos-e2e-devkey-");
    const first = await startTalos({ args: ["serve", "--dev"], cwd: dir });
    const file = join(dir, ".talos", "jwks.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, "utf8")) as { keys: JWK[] };
    expect(stored.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA" });
    const served = (await fetchJson(`${first.apiUrl}${JWKS}`)).body;
    expect(served).toEqual({ keys: [{ kty: "OKP", kid: stored.keys[0]!.kid, use: "sig", alg: "EdDSA", crv: "Ed25519", x: stored.keys[0]!.x }] });
    const issued = await fetchJson(`${first.apiUrl}${ISSUE}`, { body: { actor_id: "dev" } });
    const d = await fetchJson(`${first.apiUrl}${DERIVE}`, { body: { credential: issued.body.secret } });
    expect(d.status, d.text).toBe(200);
    expect(await first.stop()).toBe(0);

    const second = await startTalos({ args: ["serve", "--dev"], cwd: dir });
    expect((await fetchJson(`${second.apiUrl}${JWKS}`)).body).toEqual(served);
    const v = await fetchJson(`${second.apiUrl}${VERIFY}`, { body: { credential: d.body.token.token } });
    expect(v.body).toMatchObject({ is_valid: true, issuer: "http://localhost:4420" });
    expect(readFileSync(file, "utf8")).toBe(JSON.stringify(stored, null, 2) + "\n");
    expect(await second.stop()).toBe(0);
  }, 180_000);

  it("a configured URL wins over the dev key; a bad URL is a start-up error", async () => {
    const dir = tempDir("talos-e2e-badkey-");
    const r = await runTalos(["serve", "--dev"], { TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: "file://./missing-jwks.json" }, dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/signing_keys\.urls\[0\]: cannot read .*missing-jwks\.json \(ENOENT\)/);
  });
});
