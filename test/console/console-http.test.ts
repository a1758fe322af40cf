/**
 * The admin console over real HTTP (createServer on a free port, fetch with a cookie jar): CSP and
 * no-store headers, CSRF, escaping, the one-time secret, sign-in through the authenticator seam,
 * permissions, and where the console is (not) served.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client, csrfOf, startConsoleServer, adminAuthOverrides, type ConsoleServer } from "./support.js";

const XSS_NAME = "<img src=x onerror=alert(1)>";

describe("console charts", () => {
  it("sample the verification counters without a database round trip (no readiness probe, no outbox stats)", async () => {
    const s = await startConsoleServer();
    try {
      const store = s.built.store;
      let dbCalls = 0;
      const counted = <T extends (...a: never[]) => Promise<unknown>>(fn: T): T => ((...a: Parameters<T>) => (dbCalls++, fn(...a))) as T;
      store.ping = counted(store.ping.bind(store));
      store.migrationStatus = counted(store.migrationStatus.bind(store));
      store.repo.events.stats = counted(store.repo.events.stats.bind(store.repo.events));
      await new Promise((r) => setTimeout(r, 100)); // the sampler's first sample, taken at start
      for (let i = 0; i < 5; i++) {
        const v = await fetch(`${s.base}/v2alpha1/admin/apiKeys:verify`, { method: "POST", body: JSON.stringify({ credential: `garbage-${i}` }) });
        expect(v.status).toBe(200);
      }
      const { res, text } = await client(s.base).get("/console");
      expect(res.status).toBe(200);
      // the refused verifies since the first sample show as a rate above zero
      const refused = /refused: ([\d.]+)/.exec(text);
      expect(Number(refused?.[1])).toBeGreaterThan(0);
      expect(dbCalls).toBe(0);
    } finally {
      await s.close();
    }
  });
});

describe("console without admin authentication", () => {
  let s: ConsoleServer;
  beforeAll(async () => {
    s = await startConsoleServer();
  });
  afterAll(() => s?.close());

  it("serves the overview with a strict CSP, no-store and the no-authentication warning", async () => {
    const c = client(s.base);
    const { res, text } = await c.get("/console");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(text).toContain("no built-in authentication");
    expect(text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(text).not.toMatch(/\sstyle="/); // no inline style
    const csrf = c.setCookies.find((x) => x.startsWith("talos_console_csrf="))!;
    expect(csrf).toMatch(/HttpOnly/i);
    expect(csrf).toMatch(/SameSite=Strict/i);
  });

  it("serves htmx from its npm package, not a CDN", async () => {
    const { res, text } = await client(s.base).get("/console/static/htmx.min.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect(text).toContain("htmx");
    const page = (await client(s.base).get("/console/keys")).text;
    expect(page).not.toMatch(/src="https?:/);
  });

  it("refuses a form post without the CSRF token, or with a wrong one", async () => {
    const c = client(s.base);
    await c.get("/console/keys/new");
    const none = await c.post("/console/keys", { name: "no-token" });
    expect(none.res.status).toBe(403);
    const wrong = await c.post("/console/keys", { name: "bad-token", _csrf: "AAAA" });
    expect(wrong.res.status).toBe(403);
    // a token from another browser's cookie does not fit this one
    const other = client(s.base);
    const otherToken = csrfOf((await other.get("/console/keys/new")).text);
    expect((await c.post("/console/keys", { name: "foreign", _csrf: otherToken })).res.status).toBe(403);
    const list = await c.get("/console/keys?q=no-token");
    expect(list.text).toContain("0 keys");
  });

  it("issues a key, shows its secret once, and never again (pages, log)", async () => {
    const c = client(s.base);
    const form = await c.get("/console/keys/new");
    const { res, text } = await c.post("/console/keys", { _csrf: csrfOf(form.text), name: "once", actor_id: "http-once", scopes: "read\nwrite", request_id: "" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const secret = /id="secret"[^>]*value="([^"]+)"/.exec(text)?.[1] ?? /value="([^"]+)"[^>]*id="secret"/.exec(text)?.[1];
    expect(secret).toBeTruthy();
    expect(text).toContain("only time it is shown");
    const keyHref = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(text)![1]!;
    const detail = await c.get(keyHref);
    expect(detail.res.status).toBe(200);
    expect(detail.text).toContain("http-once");
    expect(detail.text).not.toContain(secret!);
    expect((await c.get("/console/keys?actor=http-once")).text).not.toContain(secret!);
    expect(s.logger.lines.join("\n")).not.toContain(secret!);
    // the verify tester accepts it, and the credential is not echoed or logged
    const tools = await c.get("/console/tools");
    const v = await c.post("/console/tools/verify", { _csrf: csrfOf(tools.text), credential: secret! });
    expect(v.res.status).toBe(200);
    expect(v.text).toContain("&quot;is_valid&quot;: true");
    expect(v.text).not.toContain(secret!);
    // a secret pasted into a console URL is not logged either; console requests are in the request log
    expect((await c.get(`/console/keys/issued/${encodeURIComponent(secret!)}`)).res.status).toBe(404);
    const log = s.logger.lines.join("\n");
    expect(log).not.toContain(secret!);
    expect(log).toContain('"path":"/console/keys/issued/*"');
    expect(log).toContain('"path":"/console/tools/verify"');
  });

  it("derives a macaroon from a key (token shown once); JWT without a signing key names the setting", async () => {
    const c = client(s.base);
    const csrf = csrfOf((await c.get("/console/keys/new")).text);
    const issued = await c.post("/console/keys", { _csrf: csrf, name: "parent", actor_id: "http-derive", scopes: "read\nwrite" });
    const secret = /id="secret"[^>]*value="([^"]+)"/.exec(issued.text)![1]!;
    const mac = await c.post("/console/tools/derive", { _csrf: csrf, credential: secret, algorithm: "TOKEN_ALGORITHM_MACAROON", scopes: "read" });
    expect(mac.res.status).toBe(201);
    const token = /id="secret"[^>]*value="([^"]+)"/.exec(mac.text)![1]!;
    expect(token).toMatch(/^mc_v1_/);
    expect(mac.text).toContain("scopes: read.");
    expect(mac.text).not.toContain(secret);
    const tools = await c.get("/console/tools");
    const v = await c.post("/console/tools/verify", { _csrf: csrfOf(tools.text), credential: token });
    expect(v.text).toContain("&quot;is_valid&quot;: true");
    const jwt = await c.post("/console/tools/derive", { _csrf: csrf, credential: secret, algorithm: "TOKEN_ALGORITHM_JWT" });
    expect(jwt.res.status).toBe(500);
    expect(jwt.text).toContain("credentials.derived_tokens.jwt.signing_keys.urls");
    expect(s.logger.lines.join("\n")).not.toContain(token);
  });

  it("updates a key's fields and deletes an imported key", async () => {
    const c = client(s.base);
    const csrf = csrfOf((await c.get("/console/keys/new")).text);
    const issued = await c.post("/console/keys", { _csrf: csrf, name: "before", actor_id: "http-update", scopes: "a" });
    const href = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(issued.text)![1]!;
    const upd = await c.post(`${href}/update`, {
      _csrf: csrf,
      name: "after",
      scopes: "b\nc",
      metadata: '{"tier": "gold"}',
      rate_quota: "10",
      rate_window: "60s",
      allowed_cidrs: "10.0.0.0/8",
    });
    expect(upd.res.status).toBe(303);
    const detail = (await c.get(href)).text;
    expect(detail).toContain("after");
    expect(detail).toContain("10 requests per 60 s");
    expect(detail).toContain("10.0.0.0/8");
    expect(detail).toContain("&quot;tier&quot;: &quot;gold&quot;");
    const bad = await c.post(`${href}/update`, { _csrf: csrf, name: "x", allowed_cidrs: "not-a-cidr" });
    expect(bad.res.status).toBe(400);
    expect(bad.text).toContain("must be an IPv4 or IPv6 CIDR");

    const imp = await c.post("/console/keys/import", { _csrf: csrf, raw_key: "external-key-http-delete-1", name: "to-delete", actor_id: "http-update" });
    expect(imp.res.status).toBe(201);
    expect(imp.text).not.toContain("external-key-http-delete-1");
    const impHref = /href="(\/console\/keys\/imported\/[^"]+)"/.exec(imp.text)![1]!;
    expect((await c.post(`${impHref}/delete`, { _csrf: csrf })).res.status).toBe(303);
    expect((await c.get(impHref)).res.status).toBe(404);
  });

  it("a resubmitted issue form replays without the secret", async () => {
    const c = client(s.base);
    const csrf = csrfOf((await c.get("/console/keys/new")).text);
    const fields = { _csrf: csrf, name: "replayed", actor_id: "http-replay", request_id: "console-replay-1" };
    const first = await c.post("/console/keys", fields);
    expect(first.res.status).toBe(201);
    const again = await c.post("/console/keys", fields);
    expect(again.res.status).toBe(200);
    expect(again.text).toContain("already submitted");
    expect(again.text).not.toContain('id="secret"');
  });

  it("shows the API's validation message and keeps the input", async () => {
    const c = client(s.base);
    const csrf = csrfOf((await c.get("/console/keys/new")).text);
    const { res, text } = await c.post("/console/keys", { _csrf: csrf, name: "bad-ttl", ttl: "forever" });
    expect(res.status).toBe(400);
    expect(text).toMatch(/ttl: /);
    expect(text).toContain('value="bad-ttl"');
    const meta = await c.post("/console/keys", { _csrf: csrf, name: "bad-meta", metadata: "{not json" });
    expect(meta.res.status).toBe(400);
    expect(meta.text).toContain("metadata: is not valid JSON");
  });

  it("renders a hostile name and metadata as text", async () => {
    const c = client(s.base);
    const csrf = csrfOf((await c.get("/console/keys/new")).text);
    const { text } = await c.post("/console/keys", {
      _csrf: csrf,
      name: XSS_NAME,
      actor_id: "http-xss",
      metadata: JSON.stringify({ note: "</pre><script>alert(2)</script>" }),
    });
    const href = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(text)![1]!;
    const detail = (await c.get(href)).text;
    expect(detail).not.toContain(XSS_NAME);
    expect(detail).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(detail).not.toContain("<script>alert(2)");
    const list = (await c.get("/console/keys?actor=http-xss")).text;
    expect(list).not.toContain(XSS_NAME);
    expect(list).toContain("&lt;img");
  });

  it("revokes with a reason and rotates through forms", async () => {
    const c = client(s.base);
    const csrf = csrfOf((await c.get("/console/keys/new")).text);
    const issued = await c.post("/console/keys", { _csrf: csrf, name: "to-rotate", actor_id: "http-rot" });
    const href = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(issued.text)![1]!;
    const rotated = await c.post(`${href}/rotate`, { _csrf: csrf });
    expect(rotated.res.status).toBe(201);
    expect(rotated.text).toContain("replacement key");
    const newHref = /href="(\/console\/keys\/issued\/[^"]+)">Open the new key/.exec(rotated.text)![1]!;
    expect((await c.get(href)).text).toContain("Revoked (superseded)");
    const revoked = await c.post(`${newHref}/revoke`, { _csrf: csrf, reason: "REVOCATION_REASON_KEY_COMPROMISE" });
    expect(revoked.res.status).toBe(303);
    expect((await c.get(newHref)).text).toContain("Revoked (key compromise)");
    const again = await c.post(`${newHref}/rotate`, { _csrf: csrf });
    expect(again.res.status).toBe(409); // no rotate on a revoked key: the form is gone and the verb refuses
    expect(again.text).toContain("cannot rotate a non-active key");
  });

  it("lists and filters by actor, status and kind", async () => {
    const c = client(s.base);
    const csrf = csrfOf((await c.get("/console/keys/new")).text);
    await c.post("/console/keys", { _csrf: csrf, name: "f-one", actor_id: "http-filter" });
    await c.post("/console/keys/import", { _csrf: csrf, raw_key: "external-key-http-filter-1", name: "f-imported", actor_id: "http-filter" });
    expect((await c.get("/console/keys?actor=http-filter")).text).toContain("2 keys");
    const imported = (await c.get("/console/keys?actor=http-filter&kind=imported")).text;
    expect(imported).toContain("1 key");
    expect(imported).toContain("f-imported");
    expect((await c.get("/console/keys?actor=http-filter&status=revoked")).text).toContain("0 keys");
    expect((await c.get("/console/keys?q=f-on")).text).toContain("f-one");
  });
});

const REDIS_URL = process.env.TALOS_TEST_REDIS_URL;
if (!REDIS_URL) console.warn("\n!!! SKIPPED: console live quota on the Redis rate limiter (test/console/console-http.test.ts) — set TALOS_TEST_REDIS_URL.\n");

const verify = async (base: string, credential: string) => {
  const res = await fetch(`${base}/v2alpha1/admin/apiKeys:verify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ credential }) });
  return (await res.json()) as { is_valid: boolean; rate_limit_remaining: string; error_code: string };
};

/** The live quota on the key page is read from the same bucket verify spends from, and reading never spends. */
const backends: [string, Record<string, unknown> | null][] = [
  ["memory", {}],
  ["redis", REDIS_URL ? { "rate_limit.backend": "redis", "cache.redis.addrs": [new URL(REDIS_URL).host] } : null],
];
for (const [backend, overrides] of backends) {
  describe.skipIf(overrides === null)(`console key page: live quota (${backend} rate limiter)`, () => {
    let s: ConsoleServer;
    beforeAll(async () => {
      s = await startConsoleServer({ overrides: overrides ?? {} });
    });
    afterAll(() => s?.close());

    it("shows quota - k after k verifies, twice, and the next verify still finds quota - k", async () => {
      const c = client(s.base);
      const csrf = csrfOf((await c.get("/console/keys/new")).text);
      const issued = await c.post("/console/keys", { _csrf: csrf, name: "limited", actor_id: `http-quota-${backend}`, rate_quota: "5", rate_window: "3600s" });
      const secret = /id="secret"[^>]*value="([^"]+)"/.exec(issued.text)![1]!;
      const href = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(issued.text)![1]!;
      expect((await c.get(href)).text).toContain("5 of 5 remaining: the full quota is available");
      const k = 3;
      for (let i = 0; i < k; i++) expect((await verify(s.base, secret)).is_valid).toBe(true);
      for (let i = 0; i < 2; i++) {
        const page = (await c.get(href)).text;
        expect(page).toContain("5 requests per 3600 s");
        expect(page).toMatch(/2 of 5 remaining in this window, resets at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
      }
      // the page spent nothing: this verify sees 5 - 3 left before it, 5 - 4 after
      const next = await verify(s.base, secret);
      expect(next.is_valid).toBe(true);
      expect(next.rate_limit_remaining).toBe(String(5 - k - 1));
      expect((await c.get(href)).text).toContain("1 of 5 remaining in this window");
      await verify(s.base, secret);
      expect((await c.get(href)).text).toContain("0 of 5 remaining in this window");
      expect((await verify(s.base, secret)).error_code).toBe("VERIFICATION_ERROR_RATE_LIMITED");
    });

    it("says so for no policy, a unit that is not counted, and a revoked key", async () => {
      const c = client(s.base);
      const csrf = csrfOf((await c.get("/console/keys/new")).text);
      const plain = await c.post("/console/keys", { _csrf: csrf, name: "unlimited", actor_id: `http-quota-${backend}` });
      const plainHref = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(plain.text)![1]!;
      expect((await c.get(plainHref)).text).toContain("no rate limit");
      const tokens = await c.post("/console/keys", { _csrf: csrf, name: "tokens", actor_id: `http-quota-${backend}`, rate_quota: "9", rate_window: "60s", rate_unit: "tokens" });
      const tokensHref = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(tokens.text)![1]!;
      expect((await c.get(tokensHref)).text).toContain("advertised only: the unit “tokens” is not counted");
      await c.post(`${tokensHref}/revoke`, { _csrf: csrf, reason: "REVOCATION_REASON_KEY_COMPROMISE" });
      expect((await c.get(tokensHref)).text).toContain("no live quota: the key is revoked or expired");
    });
  });
}

describe("console key page: lineage and events", () => {
  let s: ConsoleServer;
  beforeAll(async () => {
    s = await startConsoleServer();
  });
  afterAll(() => s?.close());

  it("links a rotated key and its replacement both ways, from the api_key.rotated event", async () => {
    const c = client(s.base);
    const csrf = csrfOf((await c.get("/console/keys/new")).text);
    const issued = await c.post("/console/keys", { _csrf: csrf, name: "gen-1", actor_id: "http-lineage" });
    const oldHref = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(issued.text)![1]!;
    expect((await c.get(oldHref)).text).not.toContain("Rotated");
    const rotated = await c.post(`${oldHref}/rotate`, { _csrf: csrf });
    const newHref = /href="(\/console\/keys\/issued\/[^"]+)">Open the new key/.exec(rotated.text)![1]!;
    const again = await c.post(`${newHref}/rotate`, { _csrf: csrf });
    const newestHref = /href="(\/console\/keys\/issued\/[^"]+)">Open the new key/.exec(again.text)![1]!;
    const id = (href: string) => href.split("/").pop()!;

    const first = (await c.get(oldHref)).text;
    expect(first).toContain(`<dt>Rotated to</dt><dd><a href="${newHref}" class="mono" rel="next">${id(newHref)}</a>`);
    expect(first).not.toContain("Rotated from");
    const middle = (await c.get(newHref)).text;
    expect(middle).toContain(`<dt>Rotated from</dt><dd><a href="${oldHref}" class="mono" rel="prev">${id(oldHref)}</a>`);
    expect(middle).toContain(`<dt>Rotated to</dt><dd><a href="${newestHref}" class="mono" rel="next">${id(newestHref)}</a>`);
    expect(middle).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // still no inline script or style
    expect(middle).not.toMatch(/\sstyle="/);
    const last = (await c.get(newestHref)).text;
    expect(last).toContain(`<dt>Rotated from</dt><dd><a href="${newHref}"`);
    expect(last).not.toContain("Rotated to");
  });

  it("lists the key's events, newest first, with who and what changed", async () => {
    const c = client(s.base);
    const csrf = csrfOf((await c.get("/console/keys/new")).text);
    const issued = await c.post("/console/keys", { _csrf: csrf, name: "evented", actor_id: "http-events" });
    const href = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(issued.text)![1]!;
    await c.post(`${href}/update`, { _csrf: csrf, name: "<b>renamed</b>", scopes: "x" });
    const rotated = await c.post(`${href}/rotate`, { _csrf: csrf });
    const newHref = /href="(\/console\/keys\/issued\/[^"]+)">Open the new key/.exec(rotated.text)![1]!;
    const page = (await c.get(href)).text;
    const rows = [...page.matchAll(/<td data-label="Type" class="mono">([^<]+)<\/td><td data-label="By">([^<]*)<\/td><td data-label="Summary">([^<]*)<\/td>/g)].map((m) => [m[1], m[2], m[3]]);
    expect(rows).toEqual([
      ["api_key.rotated", "admin_api", `replaced by ${newHref.split("/").pop()}`],
      ["api_key.updated", "admin_api", "changed name, scopes"],
      ["api_key.issued", "admin_api", "issue, name “evented”"],
    ]);
    expect(page).not.toContain("<b>renamed</b>");
    // the replacement's list starts with the rotation that created it (stored on the old key)
    const created = (await c.get(newHref)).text;
    expect(created).toContain(`created by rotating ${href.split("/").pop()}`);
  });

  it("has no lineage when events.enabled is false (nothing recorded), and says so in the events section", async () => {
    const off = await startConsoleServer({ overrides: { "events.enabled": false } });
    try {
      const c = client(off.base);
      const csrf = csrfOf((await c.get("/console/keys/new")).text);
      const issued = await c.post("/console/keys", { _csrf: csrf, name: "unrecorded", actor_id: "http-no-events" });
      const href = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(issued.text)![1]!;
      const rotated = await c.post(`${href}/rotate`, { _csrf: csrf });
      const newHref = /href="(\/console\/keys\/issued\/[^"]+)">Open the new key/.exec(rotated.text)![1]!;
      const page = (await c.get(newHref)).text;
      expect(page).not.toContain("Rotated from");
      expect(page).toContain("Event recording is off (events.enabled: false)");
      expect(page).toContain("No events for this key");
    } finally {
      await off.close();
    }
  });
});

describe("console with sign-in (serve.admin_auth tokens)", () => {
  let s: ConsoleServer;
  beforeAll(async () => {
    s = await startConsoleServer({ overrides: adminAuthOverrides() });
  });
  afterAll(() => s?.close());

  it("sends an anonymous visitor to the sign-in page", async () => {
    const { res } = await client(s.base).get("/console/keys");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/sign-in?next=%2Fconsole%2Fkeys");
  });

  it("refuses a wrong token and signs in with a right one (HttpOnly, SameSite=Strict session)", async () => {
    const c = client(s.base);
    const form = await c.get("/console/sign-in");
    expect(form.res.status).toBe(200);
    expect(form.text).not.toContain("no built-in authentication");
    const bad = await c.post("/console/sign-in", { _csrf: csrfOf(form.text), token: "wrong", next: "/console/keys" });
    expect(bad.res.status).toBe(401);
    expect(bad.text).toContain("Sign-in failed");
    const ok = await c.post("/console/sign-in", { _csrf: csrfOf(form.text), token: "admin-token-0123456789", next: "/console/keys" });
    expect(ok.res.status).toBe(303);
    expect(ok.res.headers.get("location")).toBe("/console/keys");
    const cookie = c.setCookies.find((x) => x.startsWith("talos_console_session="))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).not.toContain("admin-token");
    const keys = await c.get("/console/keys");
    expect(keys.res.status).toBe(200);
    expect(keys.text).toContain("Signed in as <strong>alice</strong>");
    // sign-out ends the session
    const out = await c.post("/console/sign-out", { _csrf: csrfOf(keys.text) });
    expect(out.res.status).toBe(303);
    expect((await c.get("/console/keys")).res.status).toBe(303);
  });

  it("refuses a forged session cookie and an open redirect", async () => {
    const c = client(s.base);
    c.jar.set("talos_console_session", `${Buffer.from(JSON.stringify({ s: "eve", p: ["admin"], e: Date.now() + 1e6 })).toString("base64url")}.AAAA`);
    expect((await c.get("/console/keys")).res.status).toBe(303);
    const form = await c.get("/console/sign-in");
    const ok = await c.post("/console/sign-in", { _csrf: csrfOf(form.text), token: "admin-token-0123456789", next: "https://evil.example/" });
    expect(ok.res.headers.get("location")).toBe("/console");
  });

  it("hides and refuses actions the principal lacks", async () => {
    const c = client(s.base);
    const form = await c.get("/console/sign-in");
    await c.post("/console/sign-in", { _csrf: csrfOf(form.text), token: "reader-token-0123456789" });
    const keys = await c.get("/console/keys");
    expect(keys.res.status).toBe(200);
    expect(keys.text).not.toContain("Issue or import");
    const denied = await c.post("/console/keys", { _csrf: csrfOf(keys.text), name: "nope" });
    expect(denied.res.status).toBe(403);
    expect(denied.text).toContain("keys:write");
  });

  it("shows a key's events only to a principal with events:read; lineage to every reader", async () => {
    const admin = client(s.base);
    await admin.post("/console/sign-in", { _csrf: csrfOf((await admin.get("/console/sign-in")).text), token: "admin-token-0123456789" });
    const csrf = csrfOf((await admin.get("/console/keys/new")).text);
    const issued = await admin.post("/console/keys", { _csrf: csrf, name: "audited", actor_id: "http-audit" });
    const href = /href="(\/console\/keys\/issued\/[^"]+)"/.exec(issued.text)![1]!;
    const rotated = await admin.post(`${href}/rotate`, { _csrf: csrf });
    const newHref = /href="(\/console\/keys\/issued\/[^"]+)">Open the new key/.exec(rotated.text)![1]!;
    const adminPage = (await admin.get(newHref)).text;
    expect(adminPage).toContain('id="events-heading"');
    expect(adminPage).toContain("alice (admin_api)"); // the event names the signed-in principal

    const signIn = async (token: string) => {
      const c = client(s.base);
      await c.post("/console/sign-in", { _csrf: csrfOf((await c.get("/console/sign-in")).text), token });
      return c;
    };
    const reader = (await (await signIn("reader-token-0123456789")).get(newHref)).text;
    expect(reader).toContain("Rotated from");
    expect(reader).not.toContain('id="events-heading"');
    expect(reader).not.toContain("api_key.rotated");
    const auditor = (await (await signIn("auditor-token-0123456789")).get(newHref)).text;
    expect(auditor).toContain('id="events-heading"');
    expect(auditor).toContain("api_key.rotated");
    expect(auditor).not.toContain("Rotate: a new key"); // no keys:write: no actions
  });

  it("the API behind it refuses the same visitor without a token, and serves the token the console accepted", async () => {
    expect((await fetch(`${s.base}/v2alpha1/admin/issuedApiKeys`)).status).toBe(401);
    const ok = await fetch(`${s.base}/v2alpha1/admin/issuedApiKeys`, { headers: { authorization: "Bearer reader-token-0123456789" } });
    expect(ok.status).toBe(200);
  });
});

describe("console sign-in throttling (serve.admin_auth.throttle)", () => {
  it("failed sign-ins count against the client IP like failed API calls: then 429, even for a right token", async () => {
    const s = await startConsoleServer({ overrides: adminAuthOverrides({ "serve.admin_auth.throttle.quota": 2 }) });
    try {
      const c = client(s.base);
      const form = await c.get("/console/sign-in");
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await c.post("/console/sign-in", { _csrf: csrfOf(form.text), token: `guess-${i}` })).res.status);
      expect(statuses.slice(0, 2)).toEqual([401, 401]);
      expect(statuses.at(-1)).toBe(429);
      const right = await c.post("/console/sign-in", { _csrf: csrfOf(form.text), token: "admin-token-0123456789" });
      expect(right.res.status).toBe(429);
      expect(right.text).toContain("Too many failed sign-ins");
      expect(c.setCookies.some((x) => x.startsWith("talos_console_session=") && !x.includes("Max-Age=0"))).toBe(false);
    } finally {
      await s.close();
    }
  });
});

describe("where the console is served", () => {
  it("never on the public surface", async () => {
    const s = await startConsoleServer({ mode: "public" });
    try {
      const { res } = await client(s.base).get("/console");
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/json/);
    } finally {
      await s.close();
    }
  });

  it("not when serve.console.enabled is false; the API still answers", async () => {
    const s = await startConsoleServer({ mode: "admin", overrides: { "serve.console.enabled": false } });
    try {
      expect((await client(s.base).get("/console")).res.status).toBe(404);
      expect((await client(s.base).get("/health/alive")).res.status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
