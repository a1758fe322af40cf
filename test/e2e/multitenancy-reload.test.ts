/**
 * Configuration reloaded without a restart (docs/multitenancy.md#reloading-configuration), with
 * real `talos serve` processes: a network added to the watched file while verifies run against
 * another network (no failed request), an invalid edit rejected with the old configuration kept,
 * SIGHUP, settings that need a restart, and a cluster (`serve.workers: 2`) where every worker reloads.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue, pollUntil, sleep } from "../support/cluster.js";
import { hostCall, hostClient, writeIn } from "../support/hosts.js";
import { freshDatabase } from "../support/postgres.js";
import { REDIS_URL, pgAndRedisOrWarn, redisAddr } from "../support/redis.js";
import { E2E_TIMEOUT_MS, fetchJson, startTalos, stopAllTalos, tempDir, type TalosProcess } from "../support/process.js";

const A = "0b9e7c1e-5a43-4f11-9a0e-3f3f0f6f4a01";
const C = "3f2e1d0c-9b8a-4f7e-9d6c-5b4a3f2e1d05";
const ENV = { TALOS_SECRETS_HMAC_CURRENT: "reload-hmac-secret-0123456789abcdef-0123", TALOS_CREDENTIALS_ISSUER: "https://main.test" };
const RELOAD_LIMIT_MS = 20_000;

const mainFile = (networks: string, extra = "") => `multitenancy:\n  enabled: true\n  networks:\n${networks}${extra}`;
const netA = `    - { hostname: a.test, id: ${A}, config_path: a.yaml }\n`;
const netC = `    - { hostname: c.test, id: ${C}, config_path: c.yaml }\n`;

/** Polls until `host` is served (not the unknown-host 404) on `port`. */
async function untilServed(port: number, host: string): Promise<number | null> {
  return pollUntil(async () => (await hostCall(port, host, "GET", "/v2alpha1/admin/issuedApiKeys?page_size=1")).status === 200, RELOAD_LIMIT_MS, 100);
}

const reloadLogs = (t: TalosProcess, msg: string) => t.logs().filter((l) => typeof l.msg === "string" && l.msg.startsWith(msg));

describe("reload: networks added, invalid edits rejected, SIGHUP", { timeout: E2E_TIMEOUT_MS * 2 }, () => {
  let t: TalosProcess;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = tempDir("talos-reload-");
    writeIn(dir, "a.yaml", "credentials:\n  issuer: https://a.test\n");
    writeIn(dir, "c.yaml", "credentials:\n  issuer: https://c.test\n  api_keys:\n    prefix:\n      current: cck\n");
    file = writeIn(dir, "talos.yaml", mainFile(netA));
    t = await startTalos({ args: ["serve", "all", "--config", file], env: { ...ENV, TALOS_DB_DSN: `pglite://${dir}/db` }, startTimeoutMs: 170_000 });
  }, 180_000);
  afterAll(async () => {
    await stopAllTalos();
  });

  it("adds a network from the watched file while verifies on another run, without a failed request", async () => {
    const a = hostClient(t.apiPort, "a.test");
    const { secret } = await a.issue();
    expect((await hostCall(t.apiPort, "c.test", "GET", "/v2alpha1/admin/issuedApiKeys")).status).toBe(404);
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const loop = async () => {
      while (running) {
        try {
          const r = await a.verify(secret);
          if (r.status === 200 && r.body.is_valid === true) ok++;
          else failures.push(`${r.status} ${r.text.slice(0, 200)}`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const load = Array.from({ length: 6 }, loop);
    await sleep(500);
    writeIn(dir, "talos.yaml", mainFile(netA + netC));
    const ms = await untilServed(t.apiPort, "c.test");
    expect(ms, "c.test was not served within the limit").not.toBeNull();
    const c = hostClient(t.apiPort, "c.test");
    const k = await c.issue();
    expect(k.secret.startsWith("cck_v1_")).toBe(true);
    expect((await c.verify(k.secret)).body).toMatchObject({ is_valid: true, issuer: "https://c.test" });
    await sleep(500);
    running = false;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(10);
    await pollUntil(async () => reloadLogs(t, "configuration reloaded").length > 0, 5_000, 100);
    const applied = reloadLogs(t, "configuration reloaded");
    expect(applied.at(-1)).toMatchObject({ trigger: "file change", networks: ["a.test", "c.test"] });
    // a changed network file applies too: c's issuer
    writeIn(dir, "c.yaml", "credentials:\n  issuer: https://c2.test\n  api_keys:\n    prefix:\n      current: cck\n");
    const changed = await pollUntil(async () => (await c.verify(k.secret)).body.issuer === "https://c2.test", RELOAD_LIMIT_MS, 100);
    expect(changed).not.toBeNull();
  });

  it("rejects an invalid edit as a whole, logs every bad field, and keeps serving the old configuration", async () => {
    const before = reloadLogs(t, "configuration reload rejected").length;
    writeIn(dir, "talos.yaml", mainFile(`${netA}${netC}    - { hostname: a.test, id: not-a-uuid, config_path: a.yaml }\n`, "cache:\n  ttl: soon\n"));
    const seen = await pollUntil(async () => reloadLogs(t, "configuration reload rejected").length > before, RELOAD_LIMIT_MS, 100);
    expect(seen).not.toBeNull();
    const rejected = reloadLogs(t, "configuration reload rejected").at(-1)!;
    expect(rejected.issues).toEqual([
      'cache.ttl: must be a duration such as "30s", "1h30m" or "7d"',
      "multitenancy.networks[2].id: must be a UUID",
      "multitenancy.networks[2].hostname: duplicates multitenancy.networks[0].hostname",
    ]);
    // both networks still answer
    const a = hostClient(t.apiPort, "a.test");
    const c = hostClient(t.apiPort, "c.test");
    expect((await a.verify((await a.issue()).secret)).body.is_valid).toBe(true);
    expect((await c.verify((await c.issue()).secret)).body.is_valid).toBe(true);
    const metrics = await fetchJson(`${t.metricsUrl}/metrics`);
    expect(metricValue(metrics.text, "talos_config_reloads_total", { outcome: "rejected" })).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics.text, "talos_config_reloads_total", { outcome: "applied" })).toBeGreaterThanOrEqual(2);
    expect(metrics.text).toMatch(/^talos_config_info\{hash="[0-9a-f]{16}"\} 1$/m);
    // the fix is picked up: a removed network stops answering
    writeIn(dir, "talos.yaml", mainFile(netA, "log:\n  format: text\n"));
    const gone = await pollUntil(async () => (await hostCall(t.apiPort, "c.test", "GET", "/version")).status === 200 && (await c.get("/v2alpha1/admin/issuedApiKeys")).status === 404, RELOAD_LIMIT_MS, 100);
    expect(gone).not.toBeNull();
    // the log format cannot change at run time: reported, and the JSON lines go on (logs are flushed every 500 ms)
    await pollUntil(async () => reloadLogs(t, "changed settings take effect only after a restart").length > 0, 5_000, 100);
    expect(t.logs().filter((l) => l.msg === "changed settings take effect only after a restart; they keep their old values").at(-1)).toMatchObject({ settings: ["log.format"] });
    expect((await a.verify("unknown")).status).toBe(200);
  });

  it("reloads on SIGHUP", async () => {
    const before = t.logs().filter((l) => l.trigger === "SIGHUP").length;
    t.proc.kill("SIGHUP");
    const seen = await pollUntil(async () => t.logs().filter((l) => l.trigger === "SIGHUP").length > before, RELOAD_LIMIT_MS, 100);
    expect(seen).not.toBeNull();
    expect(t.logs().filter((l) => l.trigger === "SIGHUP").at(-1)).toMatchObject({ msg: "configuration unchanged" });
    expect(t.hasExited()).toBe(false);
  });
});

describe("reload with multitenancy off: the nil network's settings change at run time", { timeout: E2E_TIMEOUT_MS }, () => {
  let t: TalosProcess;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir("talos-reload-single-");
    const file = writeIn(dir, "talos.yaml", "cache:\n  ttl: 60s\n");
    t = await startTalos({ args: ["serve", "all", "--config", file], env: { ...ENV, TALOS_DB_DSN: "memory" }, startTimeoutMs: 170_000 });
  }, 180_000);
  afterAll(async () => {
    await stopAllTalos();
  });

  it("CORS switched on by an edit answers preflights without a restart, and keys stay valid", async () => {
    const any = hostClient(t.apiPort, "whatever.example");
    const { secret } = await any.issue();
    const preflight = () =>
      hostCall(t.apiPort, "whatever.example", "OPTIONS", "/v2alpha1/admin/apiKeys:verify", undefined, { origin: "https://console.example.com", "access-control-request-method": "POST" });
    expect((await preflight()).headers["access-control-allow-origin"]).toBeUndefined();
    writeIn(dir, "talos.yaml", 'cache:\n  ttl: 60s\nserve:\n  http:\n    cors:\n      enabled: true\n      allowed_origins: ["https://console.example.com"]\n');
    const ms = await pollUntil(async () => (await preflight()).headers["access-control-allow-origin"] === "https://console.example.com", RELOAD_LIMIT_MS, 100);
    expect(ms).not.toBeNull();
    expect((await any.verify(secret)).body.is_valid).toBe(true);
  });
});

const RUN_CLUSTER = pgAndRedisOrWarn("test/e2e/multitenancy-reload.test.ts (reload in every worker of serve.workers: 2)");

describe.skipIf(!RUN_CLUSTER)("reload in a cluster: every worker", { timeout: E2E_TIMEOUT_MS * 2 }, () => {
  let t: TalosProcess;
  let db: { dsn: string; drop: () => Promise<void> };
  let dir: string;

  beforeAll(async () => {
    db = await freshDatabase("talos_tenants_reload");
    dir = tempDir("talos-reload-cluster-");
    writeIn(dir, "a.yaml", "");
    writeIn(dir, "c.yaml", "credentials:\n  issuer: https://c.test\n");
    const file = writeIn(dir, "talos.yaml", mainFile(netA));
    t = await startTalos({
      args: ["serve", "all", "--migrate", "--config", file],
      env: { ...ENV, TALOS_DB_DSN: db.dsn, TALOS_SERVE_WORKERS: "2", TALOS_CACHE_REDIS_ADDRS: redisAddr(REDIS_URL!), TALOS_CACHE_REDIS_DB: "11", TALOS_RATE_LIMIT_BACKEND: "redis" },
      startTimeoutMs: 170_000,
    });
  }, 180_000);
  afterAll(async () => {
    await stopAllTalos();
    await db?.drop();
  });

  it("a network added to the file is served by both workers; SIGHUP to the primary reaches each", async () => {
    writeIn(dir, "talos.yaml", mainFile(netA + netC));
    const both = await pollUntil(async () => reloadLogs(t, "configuration reloaded").length >= 2, RELOAD_LIMIT_MS * 2, 100);
    expect(both, `workers reloaded: ${reloadLogs(t, "configuration reloaded").length}`).not.toBeNull();
    // fresh connections alternate between the workers: every one must know c.test
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await hostCall(t.apiPort, "c.test", "GET", "/v2alpha1/admin/issuedApiKeys?page_size=1", undefined, { connection: "close" });
      statuses.push(r.status);
    }
    expect(statuses.every((s) => s === 200), String(statuses)).toBe(true);
    const before = t.logs().filter((l) => l.trigger === "SIGHUP").length;
    t.proc.kill("SIGHUP");
    const hup = await pollUntil(async () => t.logs().filter((l) => l.trigger === "SIGHUP").length >= before + 2, RELOAD_LIMIT_MS, 100);
    expect(hup).not.toBeNull();
    expect(t.hasExited()).toBe(false);
    const k = await hostClient(t.apiPort, "c.test").issue({ actor_id: `w-${randomUUID().slice(0, 6)}` });
    expect((await hostClient(t.apiPort, "c.test").verify(k.secret)).body.issuer).toBe("https://c.test");
  });
});
