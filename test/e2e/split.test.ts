/**
 * Split deployment end to end (docs/server.md#processes-surfaces-and-ports, docs/verification.md#cache, docs/server.md#health-version-metrics-and-logs, docs/server.md#databases-and-migrations, docs/cli.md): `talos migrate`, then
 * `talos serve admin` and `talos serve public` as two real processes on one PostgreSQL database.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { E2E_TIMEOUT_MS, fetchJson, runTalos, startTalos, stopAllTalos, type JsonResponse, type TalosProcess } from "../support/process.js";

const SECRET = "e2e-split-hmac-secret-0123456789abcdef";
const ISSUER = "https://split.e2e.talos.test";
const SCHEMA_BEHIND = 'database schema is behind: run "talos migrate up" (or start with --migrate)';

const serverEnv = (dsn: string) => ({
  TALOS_DB_DSN: dsn,
  TALOS_SECRETS_HMAC_CURRENT: SECRET,
  TALOS_CREDENTIALS_ISSUER: ISSUER,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every `everyMs` until it returns true; returns the elapsed ms, or null after `limitMs`. */
async function pollUntil(probe: () => Promise<boolean>, limitMs: number, everyMs = 10): Promise<number | null> {
  const t0 = performance.now();
  while (performance.now() - t0 <= limitMs) {
    if (await probe()) return Math.round(performance.now() - t0);
    await sleep(everyMs);
  }
  return null;
}

/**
 * Sends a POST whose body arrives in two parts, SIGTERMs the server between them and returns the
 * response plus the exit code: proves in-flight requests complete while the server drains.
 * `whileDraining` runs once the server reports not-ready on its metrics listener.
 */
async function postAcrossSigterm(
  p: TalosProcess,
  path: string,
  body: string,
  opts: { keepAlive: boolean; whileDraining?: () => Promise<void> },
): Promise<{ status: number; body: any; exitCode: number | null; exitAfterMs: number }> {
  // keep-alive is what the SDK (axios), fetch and proxies use: the connection stays open afterwards
  const agent = opts.keepAlive ? new http.Agent({ keepAlive: true }) : false;
  const req = http.request(`${p.apiUrl}${path}`, {
    method: "POST",
    agent,
    headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
  });
  const response = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.once("error", reject);
    req.once("response", (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.once("end", () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
  });
  const connected = new Promise<void>((resolve) => req.once("socket", (s) => s.once("connect", () => resolve())));
  req.flushHeaders();
  req.write(body.slice(0, 10));
  await connected;
  await sleep(300); // the server has read the request headers: this request is in flight
  const t0 = performance.now();
  const exit = p.stop("SIGTERM");
  const drainingAfter = await pollUntil(async () => (await fetchJson(`${p.metricsUrl}/health/ready`)).status === 503, 10_000, 20);
  expect(drainingAfter, "the metrics listener reports not-ready after SIGTERM").not.toBeNull();
  await opts.whileDraining?.();
  req.end(body.slice(10));
  const res = await response;
  const exitCode = await exit;
  if (agent) agent.destroy();
  return { ...res, exitCode, exitAfterMs: Math.round(performance.now() - t0) };
}

if (!TEST_DSN) warnSkip("test/e2e/split.test.ts (admin + public processes on PostgreSQL)");

describe.skipIf(!TEST_DSN)("split admin + public processes on PostgreSQL", { timeout: E2E_TIMEOUT_MS }, () => {
  let db: { dsn: string; drop: () => Promise<void> };
  let admin: TalosProcess;
  let pub: TalosProcess;

  // A shared migrated database with admin and public running; tests that need an un-migrated
  // database or that stop a server own theirs.
  beforeAll(async () => {
    db = await freshDatabase("talos_e2e_split");
    const migrated = await runTalos(["migrate", "up", "--database", db.dsn]);
    if (migrated.code !== 0) throw new Error(`migrate up failed: ${migrated.stderr}`);
    const t0 = performance.now();
    [admin, pub] = await Promise.all([
      startTalos({ args: ["serve", "admin"], env: serverEnv(db.dsn) }),
      startTalos({ args: ["serve", "public"], env: serverEnv(db.dsn) }),
    ]);
    console.info(`[e2e figures] admin + public (PostgreSQL) started in parallel in ${Math.round(performance.now() - t0)} ms`);
  }, E2E_TIMEOUT_MS);
  afterAll(async () => {
    await stopAllTalos();
    await db?.drop();
  });

  it("serve admin refuses an un-migrated schema", async () => {
    const own = await freshDatabase("talos_e2e_split_unmig");
    try {
      const r = await runTalos(["serve", "admin"], { ...serverEnv(own.dsn), TALOS_SERVE_HTTP_PORT: "0", TALOS_SERVE_METRICS_PORT: "0" });
      expect(r.code).not.toBe(0);
      expect(r.code).not.toBeNull();
      expect(r.stderr).toContain(SCHEMA_BEHIND);
      expect(r.stdout).not.toContain("TALOS_PORTS");
    } finally {
      await own.drop();
    }
  });

  it("migrate status lists pending migrations, migrate up applies them, status shows them applied", async () => {
    const own = await freshDatabase("talos_e2e_split_status");
    try {
      const [before, up] = await Promise.all([
        runTalos(["migrate", "status"], { TALOS_DB_DSN: own.dsn }),
        runTalos(["migrate", "up"]), // no DSN anywhere
      ]);
      expect(up.code).toBe(1);
      expect(up.stderr).toMatch(/no database/);
      expect(before.code, before.stderr).toBe(0);
      const beforeLines = before.stdout.trim().split("\n");
      expect(beforeLines.length).toBeGreaterThan(0);
      for (const line of beforeLines) expect(line).toMatch(/\bpending$/);

      const applied = await runTalos(["migrate", "up", "--database", own.dsn]);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toMatch(new RegExp(`applied ${beforeLines.length} migration`));

      const [after, again] = await Promise.all([
        runTalos(["migrate", "status"], { TALOS_DB_DSN: own.dsn }),
        runTalos(["migrate", "up"], { TALOS_DB_DSN: own.dsn }), // idempotent
      ]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain("up to date");
      expect(after.code, after.stderr).toBe(0);
      const afterLines = after.stdout.trim().split("\n");
      expect(afterLines).toHaveLength(beforeLines.length);
      for (const line of afterLines) {
        expect(line).not.toMatch(/pending/);
        expect(line).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      }
    } finally {
      await own.drop();
    }
  });

  it("starts admin and public as separate processes on the same database", async () => {
    expect(admin.apiPort).not.toBe(pub.apiPort);
    for (const p of [admin, pub]) {
      for (const base of [p.apiUrl, p.metricsUrl!]) {
        const ready = await fetchJson(`${base}/health/ready`);
        expect(ready.status, `${base}/health/ready`).toBe(200);
        // no JWT signing key in this configuration: still ready, and the detail names the setting
        expect(ready.body).toEqual({ status: "ok", detail: expect.stringContaining("credentials.derived_tokens.jwt.signing_keys.urls") });
        const alive = await fetchJson(`${base}/health/alive`);
        expect(alive.status).toBe(200);
        expect(alive.body).toEqual({ status: "ok" });
      }
      const version = await fetchJson(`${p.apiUrl}/version`);
      expect(version.status).toBe(200);
      expect(version.body.version).toMatch(/^\d+\.\d+\.\d+/);
    }
  });

  it("each surface answers 404 with the error envelope for the other surface's routes", async () => {
    const expectNotFound = (r: JsonResponse, what: string) => {
      expect(r.status, what).toBe(404);
      expect(r.body?.error?.code, what).toBe(404);
      expect(r.body?.error?.status, what).toBe("NOT_FOUND");
    };
    expectNotFound(await fetchJson(`${pub.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { name: "x" } }), "public: issue");
    expectNotFound(await fetchJson(`${pub.apiUrl}/v2alpha1/admin/issuedApiKeys`), "public: list");
    expectNotFound(await fetchJson(`${pub.apiUrl}/v2alpha1/admin/apiKeys:verify`, { body: { credential: "x" } }), "public: verify");
    expectNotFound(
      await fetchJson(`${pub.apiUrl}/v2alpha1/admin/importedApiKeys/${"a".repeat(64)}`, { method: "DELETE" }),
      "public: delete imported",
    );
    expectNotFound(await fetchJson(`${pub.apiUrl}/gateway/verify`, { headers: { "X-API-Key": "x" } }), "public: gateway verify");
    expectNotFound(
      await fetchJson(`${admin.apiUrl}/v2alpha1/apiKeys:selfRevoke`, { body: { credential: "x" } }),
      "admin: selfRevoke",
    );
    // the JWKS is on both surfaces (its content depends on the signing-key configuration)
    expect((await fetchJson(`${admin.apiUrl}/v2alpha1/derivedKeys/jwks.json`)).status).not.toBe(404);
    expect((await fetchJson(`${pub.apiUrl}/v2alpha1/derivedKeys/jwks.json`)).status).not.toBe(404);
  });

  it("a key issued on admin and self-revoked on public is reported REVOKED by admin (cache invalidated across processes)", async () => {
    const issued = await fetchJson(`${admin.apiUrl}/v2alpha1/admin/issuedApiKeys`, {
      body: { name: "split", actor_id: "e2e-split-revoke", scopes: ["read"] },
    });
    expect(issued.status).toBe(201);
    const secret: string = issued.body.secret;
    const keyId: string = issued.body.issued_api_key.key_id;

    const verify = (headers: Record<string, string> = {}) =>
      fetchJson(`${admin.apiUrl}/v2alpha1/admin/apiKeys:verify`, { body: { credential: secret }, headers });

    const first = await verify();
    expect(first.body).toMatchObject({ is_valid: true, key_id: keyId, status: "KEY_STATUS_ACTIVE", issuer: ISSUER });
    expect(first.headers.get("ory-talos-cache")).toBe("MISS");
    const cached = await verify();
    expect(cached.body.is_valid).toBe(true);
    expect(cached.headers.get("ory-talos-cache"), "admin now holds the record in its cache").toBe("HIT");

    const revoked = await fetchJson(`${pub.apiUrl}/v2alpha1/apiKeys:selfRevoke`, {
      body: { credential: secret, reason: "REVOCATION_REASON_KEY_COMPROMISE" },
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({});

    // Without Cache-Control: admin must drop its cached entry on the PostgreSQL NOTIFY from public.
    let last: JsonResponse | undefined;
    const delay = await pollUntil(async () => {
      last = await verify();
      return last.body.error_code === "VERIFICATION_ERROR_REVOKED";
    }, 5_000);
    console.info(
      `[e2e figures] revocation propagation public -> admin cache (LISTEN/NOTIFY): ${delay === null ? "NOT within 5000" : delay} ms`,
    );
    expect(delay, `admin still answers from a stale cache 5 s after the self-revoke: ${JSON.stringify(last?.body)}`).not.toBeNull();
    // the entry was evicted (MISS, then a fresh database read), not merely expired
    expect(last!.headers.get("ory-talos-cache")).toBe("MISS");
    expect(last!.body).toMatchObject({ is_valid: false, key_id: keyId, status: "KEY_STATUS_UNSPECIFIED" });

    // With Cache-Control: no-cache the answer comes from the database regardless of any cache.
    const fresh = await verify({ "Cache-Control": "no-cache" });
    expect(fresh.headers.get("ory-talos-cache")).toBe("SKIP");
    expect(fresh.body).toMatchObject({ is_valid: false, error_code: "VERIFICATION_ERROR_REVOKED", key_id: keyId });

    const got = await fetchJson(`${admin.apiUrl}/v2alpha1/admin/issuedApiKeys/${keyId}`);
    expect(got.body).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_KEY_COMPROMISE" });
  });

  it("an admin revoke is seen by a second admin process through its cache", async () => {
    const admin2 = await startTalos({ args: ["serve", "admin"], env: serverEnv(db.dsn) });
    const issued = await fetchJson(`${admin.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { actor_id: "e2e-split-admin2" } });
    const secret: string = issued.body.secret;
    const verify2 = () => fetchJson(`${admin2.apiUrl}/v2alpha1/admin/apiKeys:verify`, { body: { credential: secret } });
    expect((await verify2()).body.is_valid).toBe(true);
    expect((await verify2()).headers.get("ory-talos-cache")).toBe("HIT");
    const r = await fetchJson(`${admin.apiUrl}/v2alpha1/admin/apiKeys/${issued.body.issued_api_key.key_id}:revoke`, { body: {} });
    expect(r.status).toBe(204);
    const delay = await pollUntil(async () => (await verify2()).body.error_code === "VERIFICATION_ERROR_REVOKED", 5_000);
    console.info(`[e2e figures] revocation propagation admin -> admin cache: ${delay === null ? "NOT within 5000" : delay} ms`);
    expect(delay).not.toBeNull();
    expect(await admin2.stop()).toBe(0);
  });

  it("SIGTERM: admin drains an in-flight keep-alive request, reports not-ready, refuses new connections, exits 0", async () => {
    const ownAdmin = await startTalos({ args: ["serve", "admin"], env: serverEnv(db.dsn) });
    const out = await postAcrossSigterm(ownAdmin, "/v2alpha1/admin/issuedApiKeys", JSON.stringify({ name: "in-flight", actor_id: "e2e-split-drain" }), {
      keepAlive: true,
      whileDraining: async () => {
        // a new connection (fetch could reuse a pooled one, which the drain still answers for a moment)
        const fresh = new Promise((resolve, reject) => http.get(`${ownAdmin.apiUrl}/health/alive`, { agent: false }, resolve).once("error", reject));
        await expect(fresh, "the API listener no longer accepts connections").rejects.toThrow();
      },
    });
    expect(out.status).toBe(201);
    expect(out.body.issued_api_key.name).toBe("in-flight");
    expect(out.exitCode).toBe(0);
    console.info(`[e2e figures] admin SIGTERM -> exit 0, with one in-flight keep-alive request: ${out.exitAfterMs} ms`);
    // the idle keep-alive connection left behind must not hold the drain open for its 30 s limit
    expect(out.exitAfterMs).toBeLessThan(15_000);
    expect(ownAdmin.stdout.join("\n")).toContain("shutting down");
  });

  it("SIGTERM: public drains an in-flight self-revoke and exits 0", async () => {
    const ownPub = await startTalos({ args: ["serve", "public"], env: serverEnv(db.dsn) });
    const out = await postAcrossSigterm(ownPub, "/v2alpha1/apiKeys:selfRevoke", JSON.stringify({ credential: "not-a-known-key-0000" }), {
      keepAlive: false,
    });
    expect(out.status).toBe(404);
    expect(out.body.error.status).toBe("NOT_FOUND");
    expect(out.exitCode).toBe(0);
    expect(out.exitAfterMs).toBeLessThan(15_000);
  });

  it("serve --migrate starts on an un-migrated database", async () => {
    const db2 = await freshDatabase("talos_e2e_split_mig");
    let p: TalosProcess | undefined;
    try {
      // (a fresh database has every migration pending, as the status test above shows)
      p = await startTalos({ args: ["serve", "admin", "--migrate"], env: serverEnv(db2.dsn) });
      // ready implies "schema current" (docs/server.md#health-version-metrics-and-logs)
      expect((await fetchJson(`${p.apiUrl}/health/ready`)).status).toBe(200);
      const issued = await fetchJson(`${p.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { actor_id: "e2e-migrate-flag" } });
      expect(issued.status).toBe(201);
      expect(await p.stop()).toBe(0);
      expect(p.logs().some((r) => r.msg === "migrations applied")).toBe(true);
    } finally {
      if (p && !p.hasExited()) await p.stop();
      await db2.drop();
    }
  });
});
