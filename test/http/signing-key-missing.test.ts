import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningJwk, jwksBase64Url, loadConfig } from "@talos/core";
import { silentLogger, type Metrics } from "@talos/http";
import { createServer, metricsApp, type TalosServer } from "@talos/server";
import { TEST_ISSUER, TEST_SECRET } from "../support/harness.js";
import { ISSUED, signingJwksUrl } from "../support/http-expect.js";

/**
 * Issue 12, defect 9: without a JWT signing key, derive and the JWKS keep answering 500 (the
 * reference does), but the message names the setting to fix, a metric counts the requests that hit
 * it, and /health/ready reports it while staying ready.
 */

const DERIVE = "/v2alpha1/admin/apiKeys:derive";
const JWKS = "/v2alpha1/derivedKeys/jwks.json";
const URLS = "credentials.derived_tokens.jwt.signing_keys.urls";

interface Srv {
  built: TalosServer;
  metrics: Metrics;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

async function start(overrides: Record<string, unknown>): Promise<Srv> {
  const base = { "db.dsn": "memory", "secrets.hmac.current": TEST_SECRET, "credentials.issuer": TEST_ISSUER };
  const { config } = loadConfig({ env: {}, overrides: { ...base, ...overrides } });
  const built = await createServer(config, { logger: silentLogger, migrate: true });
  const app = built.app("all");
  return {
    built,
    metrics: built.metrics,
    async call(method, path, body) {
      const res = await app.request(path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    },
  };
}

async function counts(m: Srv["metrics"]): Promise<Record<string, number>> {
  const metric = await m.registry.getSingleMetric("talos_signing_key_missing_total")!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.operation), v.value]));
}

describe("no JWT signing key configured", () => {
  let bare: Srv;
  let wrongId: Srv;
  beforeAll(async () => {
    const rsa = await generateSigningJwk("rsa", { kid: "rsa-1" });
    [bare, wrongId] = await Promise.all([
      start({}),
      start({ [URLS]: [jwksBase64Url({ keys: [rsa] })], "credentials.derived_tokens.jwt.signing_key_id": "missing" }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([bare?.built.close(), wrongId?.built.close()]);
  });

  async function secretOf(s: Srv): Promise<string> {
    const r = await s.call("POST", ISSUED, { name: "sk", actor_id: `sk-${randomUUID()}` });
    expect(r.status).toBe(201);
    return r.body.secret;
  }

  it("derive and JWKS: 500 INTERNAL whose message names the setting; each such request is counted", async () => {
    expect(await counts(bare.metrics)).toEqual({ derive: 0, jwks: 0 });
    const secret = await secretOf(bare);
    for (let i = 0; i < 2; i++) {
      const d = await bare.call("POST", DERIVE, { credential: secret });
      expect(d.status).toBe(500);
      expect(d.body.error).toMatchObject({ code: 500, status: "INTERNAL" });
      expect(d.body.error.message).toContain(URLS);
      expect(d.body.error.details[0].reason).toBe("INTERNAL_SERVER_ERROR");
    }
    const j = await bare.call("GET", JWKS);
    expect(j.status).toBe(500);
    expect(j.body.error.message).toMatch(/^no active signing keys found: set credentials\.derived_tokens\.jwt\.signing_keys\.urls/);
    // a macaroon needs no signing key: not counted; neither is a derive that fails on its credential
    expect((await bare.call("POST", DERIVE, { credential: secret, algorithm: "TOKEN_ALGORITHM_MACAROON" })).status).toBe(200);
    expect((await bare.call("POST", DERIVE, { credential: "garbage" })).status).toBeLessThan(500);
    expect(await counts(bare.metrics)).toEqual({ derive: 2, jwks: 1 });
    expect(await bare.metrics.registry.metrics()).toContain('talos_signing_key_missing_total{operation="derive"} 2');
  });

  it("/health/ready stays 200 and its detail names the setting, on the API and the metrics listener", async () => {
    const detail =
      "no JWT signing key configured: set credentials.derived_tokens.jwt.signing_keys.urls to a JWKS holding a private Ed25519 or RSA key";
    expect(await bare.call("GET", "/health/ready")).toEqual({ status: 200, body: { status: "ok", detail } });
    const res = await metricsApp(bare.built.deps, bare.metrics.route).request("/health/ready");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", detail });
    // liveness says nothing about it
    expect(await bare.call("GET", "/health/alive")).toEqual({ status: 200, body: { status: "ok" } });
  });

  it("signing_key_id that matches no private key: the detail and the 500 name signing_key_id", async () => {
    const ready = await wrongId.call("GET", "/health/ready");
    expect(ready.status).toBe(200);
    expect(ready.body.detail).toBe(
      'signing key "missing" not found: set credentials.derived_tokens.jwt.signing_key_id to the kid of a private key in credentials.derived_tokens.jwt.signing_keys.urls',
    );
    const d = await wrongId.call("POST", DERIVE, { credential: await secretOf(wrongId) });
    expect(d.status).toBe(500);
    expect(d.body.error.message).toBe(ready.body.detail);
    // the JWKS still serves the RSA key's public part
    expect((await wrongId.call("GET", JWKS)).status).toBe(200);
    expect(await counts(wrongId.metrics)).toEqual({ derive: 1, jwks: 0 });
  });
});

describe("with a signing key", () => {
  it("/health/ready is the plain {status: ok} and the counter stays at zero", async () => {
    const s = await start({ [URLS]: [signingJwksUrl("ok")] });
    try {
      expect(await s.call("GET", "/health/ready")).toEqual({ status: 200, body: { status: "ok" } });
      const r = await s.call("POST", ISSUED, { name: "sk", actor_id: `sk-${randomUUID()}` });
      expect((await s.call("POST", DERIVE, { credential: r.body.secret })).status).toBe(200);
      expect(await counts(s.metrics)).toEqual({ derive: 0, jwks: 0 });
    } finally {
      await s.built.close();
    }
  });
});
