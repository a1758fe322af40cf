/**
 * serve.admin_auth.mode jwt (docs/admin-auth.md#jwts-from-your-identity-provider): tokens from an
 * identity provider whose JWK Set the test serves over real HTTP, and rotates.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

const ISSUER = "https://idp.test/";
const AUDIENCE = "talos-admin";

let jwks: { keys: JWK[] } = { keys: [] };
let fetches = 0;
let idp: Server;
let server: TestServer;
const keyPair = (alg: string) => generateKeyPair(alg, { extractable: true });
let first: Awaited<ReturnType<typeof keyPair>>;

async function publish(kid: string, pair: Awaited<ReturnType<typeof keyPair>>, alg: string): Promise<JWK> {
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: "sig" };
  jwks = { keys: [...jwks.keys, jwk] };
  return jwk;
}

function sign(pair: Awaited<ReturnType<typeof keyPair>>, kid: string, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: string | number; alg?: string } = {}) {
  return new SignJWT({ scope: "keys:read keys:verify", ...claims })
    .setProtectedHeader({ alg: opts.alg ?? "ES256", kid })
    .setSubject("alice@example.com")
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? "5m")
    .sign(pair.privateKey);
}

const list = (token: string) =>
  server.request("GET", "/v2alpha1/admin/issuedApiKeys", undefined, { authorization: `Bearer ${token}` });

beforeAll(async () => {
  first = await keyPair("ES256");
  await publish("k1", first, "ES256");
  idp = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
  server = await startTestServer({
    overrides: {
      "serve.admin_auth.mode": ["jwt"],
      "serve.admin_auth.jwt.jwks_url": `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks.json`,
      "serve.admin_auth.jwt.issuer": ISSUER,
      "serve.admin_auth.jwt.audience": AUDIENCE,
      "serve.admin_auth.jwt.jwks_refresh_interval": "0s",
      "serve.admin_auth.throttle.quota": 1000,
    },
  });
});
afterAll(async () => {
  await server?.close();
  idp?.close();
});

describe("admin JWTs", () => {
  it("a valid token is served; its scope is its permissions", async () => {
    const t = await sign(first, "k1");
    expect((await list(t)).status).toBe(200);
    const issue = await server.request("POST", "/v2alpha1/admin/issuedApiKeys", { actor_id: "jwt" }, { authorization: `Bearer ${t}` });
    expect(issue.status).toBe(403);
    const admin = await sign(first, "k1", { scope: "admin" });
    expect((await server.request("POST", "/v2alpha1/admin/issuedApiKeys", { actor_id: "jwt" }, { authorization: `Bearer ${admin}` })).status).toBe(201);
    const perms = await sign(first, "k1", { scope: undefined, permissions: ["keys:write"] });
    expect((await list(perms)).status).toBe(403);
  });

  it("expired, wrong issuer and wrong audience are 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const t of [
      await sign(first, "k1", {}, { exp: now - 120 }),
      await sign(first, "k1", {}, { iss: "https://evil.test/" }),
      await sign(first, "k1", {}, { aud: "someone-else" }),
    ]) {
      const r = await list(t);
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toContain("invalid_token");
    }
  });

  it("an unknown kid makes the JWK Set be fetched again: rotation needs no restart", async () => {
    const second = await keyPair("RS256");
    const unpublished = await sign(second, "k2", {}, { alg: "RS256" });
    expect((await list(unpublished)).status).toBe(401);
    const before = fetches;
    await publish("k2", second, "RS256");
    expect((await list(unpublished)).status).toBe(200);
    expect(fetches).toBeGreaterThan(before);
  });

  it("alg none and HMAC signed with the public key (algorithm confusion) are refused", async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const exp = Math.floor(Date.now() / 1000) + 300;
    const claims = { sub: "mallory", iss: ISSUER, aud: AUDIENCE, exp, scope: "admin" };
    const none = `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
    expect((await list(none)).status).toBe(401);
    // the attacker knows the published public key and uses its bytes as an HMAC secret
    const pub = jwks.keys[0]!;
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: "k1" }).sign(new TextEncoder().encode(JSON.stringify(pub)));
    expect((await list(confused)).status).toBe(401);
    const other = await keyPair("ES256");
    expect((await list(await sign(other, "k1"))).status).toBe(401);
  });
});
