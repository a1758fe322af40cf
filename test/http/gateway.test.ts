import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOn, startTestServer, testDatabases, type TestServer } from "../support/harness.js";

const GATEWAY = "/gateway/verify";

/** GET /gateway/verify (docs/verification.md#gateway-verify) on the admin surface, on every test database. */
describe.each(testDatabases())("GET /gateway/verify on $name", (db) => {
  let now = Date.now();
  let s: TestServer;
  beforeAll(async () => {
    s = await startOn(db, { mode: "admin", clock: () => now });
  });
  afterAll(() => s?.close());

  const issue = async (body: Record<string, unknown>) => {
    const r = await s.request("POST", "/v2alpha1/admin/issuedApiKeys", { name: "gw", actor_id: "gw-actor", ...body });
    expect(r.status, r.text).toBe(201);
    return { secret: r.body.secret as string, keyId: r.body.issued_api_key.key_id as string };
  };
  const gw = (headers: Record<string, string>, remote = "127.0.0.1") => s.request("GET", GATEWAY, undefined, headers, remote);
  const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });

  function expectUnauthenticated(r: Awaited<ReturnType<typeof gw>>) {
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe("Bearer");
    expect(r.headers.get("x-talos-key-id")).toBeNull();
    expect(r.body.error).toMatchObject({ code: 401, status: "UNAUTHENTICATED" });
  }

  it("200 with key id, actor id and scopes for a valid Bearer credential; cache MISS then HIT", async () => {
    const k = await issue({ actor_id: "gw-valid", scopes: ["read:a", "write:b"] });
    const r1 = await gw(bearer(k.secret));
    expect(r1.status).toBe(200);
    expect(r1.headers.get("x-talos-key-id")).toBe(k.keyId);
    expect(r1.headers.get("x-talos-actor-id")).toBe("gw-valid");
    expect(r1.headers.get("x-talos-scopes")).toBe("read:a,write:b");
    expect(r1.headers.get("ory-talos-cache")).toBe("MISS");
    expect(r1.headers.get("cache-control")).toBe("no-store");
    expect(r1.text).not.toContain(k.secret);
    const r2 = await gw(bearer(k.secret));
    expect(r2.status).toBe(200);
    expect(r2.headers.get("ory-talos-cache")).toBe("HIT");
  });

  it("shares the verification cache with apiKeys:verify and honours Cache-Control: no-cache", async () => {
    const k = await issue({ actor_id: "gw-shared" });
    const v = await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: k.secret });
    expect(v.headers.get("ory-talos-cache")).toBe("MISS");
    expect((await gw(bearer(k.secret))).headers.get("ory-talos-cache")).toBe("HIT");
    expect((await gw({ ...bearer(k.secret), "Cache-Control": "no-cache" })).headers.get("ory-talos-cache")).toBe("SKIP");
  });

  it("accepts X-API-Key, a lower-case bearer scheme, and prefers Authorization over X-API-Key", async () => {
    const k = await issue({ actor_id: "gw-xapikey", scopes: [] });
    const viaHeader = await gw({ "X-API-Key": k.secret });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.headers.get("x-talos-key-id")).toBe(k.keyId);
    expect(viaHeader.headers.get("x-talos-scopes")).toBe("");
    expect((await gw({ Authorization: `bearer   ${k.secret}` })).status).toBe(200);
    expect((await gw({ ...bearer(k.secret), "X-API-Key": "nope" })).status).toBe(200);
    expectUnauthenticated(await gw({ ...bearer("nope"), "X-API-Key": k.secret }));
    // a non-Bearer Authorization header does not hide X-API-Key
    expect((await gw({ Authorization: "Basic dXNlcjpwYXNz", "X-API-Key": k.secret })).status).toBe(200);
  });

  it("401 + WWW-Authenticate: Bearer for missing, malformed, unknown and foreign credentials", async () => {
    const k = await issue({ actor_id: "gw-bad" });
    expectUnauthenticated(await gw({}));
    expectUnauthenticated(await gw({ Authorization: "Bearer" }));
    expectUnauthenticated(await gw({ Authorization: "Basic dXNlcjpwYXNz" }));
    expectUnauthenticated(await gw({ Authorization: `Bearer ${k.secret} extra` }));
    expectUnauthenticated(await gw(bearer("not-a-key")));
    expectUnauthenticated(await gw({ "X-API-Key": "" }));
    // last checksum character changed: well-formed but not ours
    const last = k.secret.at(-1) === "A" ? "B" : "A";
    const forged = await gw(bearer(k.secret.slice(0, -1) + last));
    expectUnauthenticated(forged);
    // unknown and forged look alike (no enumeration signal)
    expect(forged.text).toBe((await gw(bearer("not-a-key"))).text);
  });

  it("500 INTERNAL envelope, never a decision, when the store fails under the verification", async () => {
    const k = await issue({ actor_id: "gw-internal" });
    const repo = s.built.store.repo;
    // verification reads through the coalescing key reader, which queries getKeys
    const getKeys = repo.getKeys;
    repo.getKeys = () => Promise.reject(new Error("injected: connection refused"));
    let r: Awaited<ReturnType<typeof gw>>;
    try {
      r = await gw({ ...bearer(k.secret), "Cache-Control": "no-cache", "X-Request-ID": "gw-internal-1" });
    } finally {
      repo.getKeys = getKeys;
    }
    expect(r.status).toBe(500);
    expect(r.body.error).toMatchObject({ code: 500, status: "INTERNAL", message: "An internal server error occurred." });
    expect(r.body.error.details[0].reason).toBe("INTERNAL_SERVER_ERROR");
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.headers.get("x-request-id")).toBe("gw-internal-1");
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    for (const h of ["x-talos-key-id", "x-talos-actor-id", "x-talos-scopes", "www-authenticate"]) expect(r.headers.get(h), h).toBeNull();
    expect(r.text).not.toContain("injected");
    expect(r.text).not.toContain(k.secret);
    // with the store back, the same credential is allowed again
    expect((await gw({ ...bearer(k.secret), "Cache-Control": "no-cache" })).status).toBe(200);
  });

  it("401 for a revoked key and for an expired key", async () => {
    const revoked = await issue({ actor_id: "gw-revoked" });
    expect((await gw(bearer(revoked.secret))).status).toBe(200); // cached first: revocation must still win
    const rv = await s.request("POST", `/v2alpha1/admin/issuedApiKeys/${revoked.keyId}:revoke`, {});
    expect(rv.status).toBe(204);
    expectUnauthenticated(await gw(bearer(revoked.secret)));

    const expiring = await issue({ actor_id: "gw-expired", ttl: "60s" });
    expect((await gw(bearer(expiring.secret))).status).toBe(200);
    now += 61_000;
    try {
      expectUnauthenticated(await gw(bearer(expiring.secret)));
    } finally {
      now -= 61_000;
    }
  });

  it("403 when the socket peer is outside the key's CIDRs (client_ip_source unset: X-Forwarded-For is ignored)", async () => {
    const k = await issue({ actor_id: "gw-cidr", ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] } });
    const denied = await gw(bearer(k.secret), "127.0.0.1");
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 403, status: "PERMISSION_DENIED" });
    expect(denied.headers.get("x-talos-key-id")).toBeNull();
    expect((await gw({ ...bearer(k.secret), "X-Forwarded-For": "10.1.2.3" }, "127.0.0.1")).status).toBe(403);
    const allowed = await gw(bearer(k.secret), "10.1.2.3");
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("x-talos-actor-id")).toBe("gw-cidr");
  });

  it("429 with Retry-After, RateLimit-Policy and RateLimit once the key's quota is spent", async () => {
    const k = await issue({ actor_id: "gw-rl", rate_limit_policy: { quota: 2, window: "60s" } });
    const a = await gw(bearer(k.secret));
    expect(a.status).toBe(200);
    expect(a.headers.get("ratelimit-policy")).toBe('"default";q=2;w=60');
    expect(a.headers.get("ratelimit")).toMatch(/^"default";r=1;t=\d+$/);
    expect((await gw(bearer(k.secret))).status).toBe(200);
    const limited = await gw(bearer(k.secret));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get("ratelimit-policy")).toBe('"default";q=2;w=60');
    expect(limited.headers.get("ratelimit")).toMatch(/^"default";r=0;t=\d+$/);
    expect(limited.body.error).toMatchObject({ code: 429, status: "RESOURCE_EXHAUSTED" });
    // the same quota is spent by apiKeys:verify (one limiter)
    const v = await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: k.secret });
    expect(v.body.error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
  });

  it("verifies imported keys too", async () => {
    const raw = `gw-imported-${db.name}-${Math.random().toString(36).slice(2)}`;
    const imp = await s.request("POST", "/v2alpha1/admin/importedApiKeys", { raw_key: raw, name: "gw", actor_id: "gw-imp", scopes: ["s1"] });
    expect(imp.status, imp.text).toBe(201);
    const r = await gw({ "X-API-Key": raw });
    expect(r.status).toBe(200);
    expect(r.headers.get("x-talos-key-id")).toBe(imp.body.key_id);
    expect(r.headers.get("x-talos-scopes")).toBe("s1");
  });

  it("percent-encodes actor ids and scopes that are not plain visible ASCII, so decodeURIComponent always round-trips", async () => {
    const actor = "Zoë Müller 100%";
    const scopes = ["a,b", "plain:scope", "spaced out", "ünï"];
    const k = await issue({ actor_id: actor, scopes });
    const r = await gw(bearer(k.secret));
    expect(r.status).toBe(200);
    const actorHeader = r.headers.get("x-talos-actor-id")!;
    expect(actorHeader).toMatch(/^[\x21-\x7e]+$/);
    expect(decodeURIComponent(actorHeader)).toBe(actor);
    const parts = r.headers.get("x-talos-scopes")!.split(",");
    expect(parts).toHaveLength(scopes.length);
    expect(parts[1]).toBe("plain:scope");
    expect(parts.map(decodeURIComponent)).toEqual(scopes);
  });

  it("is GET (and HEAD) only", async () => {
    const k = await issue({ actor_id: "gw-method" });
    const post = await s.request("POST", GATEWAY, {}, bearer(k.secret));
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const head = await s.request("HEAD", GATEWAY, undefined, bearer(k.secret));
    expect(head.status).toBe(200);
    expect(head.headers.get("x-talos-key-id")).toBe(k.keyId);
    expect((await s.request("GET", `${GATEWAY}/`, undefined, bearer(k.secret))).status).toBe(404);
  });
});

describe("GET /gateway/verify behind a proxy (client_ip_source)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ mode: "admin", overrides: { "serve.http.client_ip_source": "CLIENT_IP_SOURCE_X_FORWARDED_FOR" } });
  });
  afterAll(() => s?.close());

  it("takes the client IP from the left-most X-Forwarded-For entry; absent header = socket peer", async () => {
    const issued = await s.request("POST", "/v2alpha1/admin/issuedApiKeys", {
      name: "gw",
      actor_id: "gw-xff",
      ip_restriction: { allowed_cidrs: ["203.0.113.0/24"] },
    });
    const auth = { Authorization: `Bearer ${issued.body.secret}` };
    expect((await s.request("GET", GATEWAY, undefined, { ...auth, "X-Forwarded-For": "203.0.113.7" })).status).toBe(200);
    expect((await s.request("GET", GATEWAY, undefined, { ...auth, "X-Forwarded-For": "203.0.113.7, 10.0.0.1" })).status).toBe(200);
    expect((await s.request("GET", GATEWAY, undefined, { ...auth, "X-Forwarded-For": "198.51.100.1" })).status).toBe(403);
    expect((await s.request("GET", GATEWAY, undefined, { ...auth, "X-Forwarded-For": "garbage" })).status).toBe(403);
    expect((await s.request("GET", GATEWAY, undefined, auth, "203.0.113.9")).status).toBe(200);
  });
});

describe("GET /gateway/verify is not on the public surface", () => {
  // servers start in beforeAll (hook timeout): two embedded databases can take over 30 s on a loaded machine
  let pub: TestServer;
  let all: TestServer;
  beforeAll(async () => {
    [pub, all] = await Promise.all([startTestServer({ mode: "public" }), startTestServer({ mode: "all" })]);
  });
  afterAll(async () => {
    await pub?.close();
    await all?.close();
  });

  it("404 in public mode, 200 in all mode", async () => {
    expect((await pub.request("GET", GATEWAY, undefined, { Authorization: "Bearer x" })).status).toBe(404);
    const k = await all.request("POST", "/v2alpha1/admin/issuedApiKeys", { name: "gw", actor_id: "gw-all" });
    expect((await all.request("GET", GATEWAY, undefined, { Authorization: `Bearer ${k.body.secret}` })).status).toBe(200);
  });
});
