/**
 * The all-in-one on the embedded database with `npm start`'s defaults (`talos serve --dev`),
 * plus the CLI's one-shot behaviours (docs/configuration.md, docs/server.md#databases-and-migrations, docs/cli.md). Every process runs in a temporary
 * working directory, so `./.talos/` never lands in the repository.
 */
import { createServer } from "node:net";
import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2E_TIMEOUT_MS, REPO_ROOT, fetchJson, runTalos, startTalos, stopAllTalos, tempDir, type TalosProcess } from "../support/process.js";

afterAll(stopAllTalos);

/** A port that was free a moment ago (bind to 0, read it, release it). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

const rootVersion = (): string => (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;

/** Starts `serve --dev` in `dir`; `port` pins the HTTP port (the default otherwise picks its own). */
async function startDev(dir: string, label: string, port?: number): Promise<TalosProcess> {
  const t0 = performance.now();
  const p = await startTalos({ args: ["serve", "--dev"], cwd: dir, env: port === undefined ? {} : { TALOS_SERVE_HTTP_PORT: String(port) } });
  console.info(`[e2e figures] serve --dev ${label}: ready in ${Math.round(performance.now() - t0)} ms`);
  return p;
}

const jwksKidsOf = async (p: TalosProcess): Promise<string[]> =>
  ((await fetchJson(`${p.apiUrl}/v2alpha1/derivedKeys/jwks.json`)).body.keys as { kid: string }[]).map((k) => k.kid);

// One shared server for the read-only checks; tests that stop or restart a server own theirs (own directory).
describe("talos serve --dev (embedded database, all-in-one)", { timeout: E2E_TIMEOUT_MS }, () => {
  const dir = tempDir("talos-e2e-dev-");
  const secretFile = join(dir, ".talos", "hmac-secret");
  let first: TalosProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    first = await startDev(dir, "on a fresh embedded database", port);
  }, E2E_TIMEOUT_MS);

  it("starts with generated, persisted secrets, warns loudly and serves on the configured port", async () => {
    expect(first.apiPort).toBe(port);

    expect(existsSync(secretFile)).toBe(true);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const hmacSecret = readFileSync(secretFile, "utf8").trim();
    expect(hmacSecret.length).toBeGreaterThanOrEqual(32);
    expect(existsSync(join(dir, ".talos", "db"))).toBe(true);

    // the warning must be visible while the server runs, not only after it stops
    const warning = await first.waitForLine((l) => /generated a development HMAC secret/.test(l), 5_000);
    const record = JSON.parse(warning) as Record<string, unknown>;
    expect(record.level).toBe(40); // pino "warn"
    expect(String(record.msg)).toContain(join(".talos", "hmac-secret"));
    expect(String(record.msg)).toMatch(/never use --dev in production/i);
    expect(warning).not.toContain(hmacSecret);

    const ready = await fetchJson(`${first.apiUrl}/health/ready`);
    expect(ready.status).toBe(200);
    // dev mode also generates a JWT signing key (docs/cli.md#server-commands): the JWKS serves it
    const jwks = await fetchJson(`${first.apiUrl}/v2alpha1/derivedKeys/jwks.json`);
    expect(jwks.status).toBe(200);
    expect((jwks.body.keys as { kid: string }[]).length).toBeGreaterThan(0);
  });

  it("issues and verifies a key", async () => {
    const issued = await fetchJson(`${first.apiUrl}/v2alpha1/admin/issuedApiKeys`, {
      body: { name: "dev", actor_id: "e2e-dev", scopes: ["read"] },
    });
    expect(issued.status).toBe(201);
    const secret = issued.body.secret;
    const keyId = issued.body.issued_api_key.key_id;
    expect(secret).toMatch(/^ory_ak_v1_/);
    const v = await fetchJson(`${first.apiUrl}/v2alpha1/admin/apiKeys:verify`, { body: { credential: secret } });
    expect(v.body).toMatchObject({ is_valid: true, key_id: keyId, actor_id: "e2e-dev", issuer: "http://localhost:4420" });
  });

  it("a second serve --dev in the same directory fails, naming the locked directory", async () => {
    const r = await runTalos(["serve", "--dev"], { TALOS_SERVE_HTTP_PORT: "0", TALOS_SERVE_METRICS_PORT: "0" }, dir, { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(realpathSync(dir), ".talos", "db"));
    expect(r.stderr).toMatch(/locked/);
    // the running server is unaffected
    expect((await fetchJson(`${first.apiUrl}/health/ready`)).status).toBe(200);
  });

  it("stops on SIGTERM with exit code 0", async () => {
    const own = await startDev(tempDir("talos-e2e-dev-stop-"), "to stop");
    expect(await own.stop("SIGTERM")).toBe(0);
    expect(own.logs().some((r) => r.msg === "stopped")).toBe(true);
  });

  it("after a restart in the same directory, the key issued before still verifies with the reused secrets", async () => {
    const own = tempDir("talos-e2e-dev-restart-");
    const ownSecretFile = join(own, ".talos", "hmac-secret");
    const before = await startDev(own, "before a restart");
    const hmacSecret = readFileSync(ownSecretFile, "utf8").trim();
    const jwksKids = await jwksKidsOf(before);
    expect(jwksKids.length).toBeGreaterThan(0);
    const issued = await fetchJson(`${before.apiUrl}/v2alpha1/admin/issuedApiKeys`, {
      body: { name: "dev", actor_id: "e2e-dev-restart", scopes: ["read"] },
    });
    expect(issued.status).toBe(201);
    const secret = issued.body.secret;
    const keyId = issued.body.issued_api_key.key_id;
    expect(await before.stop("SIGTERM")).toBe(0);

    const second = await startDev(own, "restart on an existing embedded database");
    expect(readFileSync(ownSecretFile, "utf8").trim()).toBe(hmacSecret);
    const reused = await second.waitForLine((l) => /development secret stored in/.test(l), 5_000);
    expect(reused).not.toContain(hmacSecret);
    expect(second.stdout.join("\n")).not.toMatch(/generated a development HMAC secret/);

    const v = await fetchJson(`${second.apiUrl}/v2alpha1/admin/apiKeys:verify`, { body: { credential: secret } });
    expect(v.body).toMatchObject({ is_valid: true, key_id: keyId, status: "KEY_STATUS_ACTIVE" });
    const got = await fetchJson(`${second.apiUrl}/v2alpha1/admin/issuedApiKeys/${keyId}`);
    expect(got.body).toMatchObject({ key_id: keyId, name: "dev", actor_id: "e2e-dev-restart" });
    // the persisted JWT signing key was reused too
    expect(await jwksKidsOf(second)).toEqual(jwksKids);
    expect(await second.stop()).toBe(0);
  });
});

describe.concurrent("talos CLI one-shots", { timeout: E2E_TIMEOUT_MS }, () => {
  it("a bad config file exits 1 listing every bad field on stderr", async () => {
    const dir = tempDir("talos-e2e-badcfg-");
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      ["secrets:", "  hmac:", "    current: s3cr3t-xyz", "bogus_key: 1", "serve:", "  http:", "    prot: 4420", "log:", "  level: loud", ""].join("\n"),
    );
    const r = await runTalos(["serve", "-c", file], {}, dir);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("TALOS_PORTS");
    const fields = ["secrets.hmac.current", "bogus_key", "serve.http.prot", "log.level", "db.dsn", "credentials.issuer"];
    for (const f of fields) expect(r.stderr, `stderr names ${f}`).toMatch(new RegExp(`^\\s*- ${f.replaceAll(".", "\\.")}: `, "m"));
    expect(r.stderr).not.toContain("s3cr3t-xyz"); // a secret value is never echoed
    expect(existsSync(join(dir, ".talos"))).toBe(false);
  });

  it("talos version prints the version from package.json", async () => {
    const r = await runTalos(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(rootVersion());
  });

  it("an unknown command exits 2", async () => {
    const r = await runTalos(["bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'bogus'/);
  });
});
