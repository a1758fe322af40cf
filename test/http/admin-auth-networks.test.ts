/**
 * Admin authentication per network (docs/admin-auth.md#networks): a network file may set its own
 * serve.admin_auth; the others inherit the main file's. A reload swaps the tokens without a restart.
 */
import { hashAdminToken, loadConfig } from "@talos/core";
import { silentLogger } from "@talos/http";
import { createServer, type TalosServer } from "@talos/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostCall, writeIn } from "../support/hosts.js";
import { tempDir } from "../support/process.js";
import { TEST_ISSUER, TEST_SECRET } from "../support/harness.js";

const MAIN = "talos_at_main_0123456789abcdefghijklmnopq";
const TENANT = "talos_at_tenant_0123456789abcdefghijklmno";
const ROTATED = "talos_at_rotated_0123456789abcdefghijklmn";
const LIST = "/v2alpha1/admin/issuedApiKeys";
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const tokensYaml = (token: string, name: string) =>
  `serve:\n  admin_auth:\n    mode: tokens\n    tokens:\n      - { name: ${name}, hash: "${hashAdminToken(token)}", permissions: [admin] }\n`;

describe("admin authentication per network", () => {
  let dir: string;
  let file: string;
  let server: TalosServer;
  let port: number;
  const load = () =>
    loadConfig({ file, env: {}, overrides: { "db.dsn": "memory", "secrets.hmac.current": TEST_SECRET, "credentials.issuer": TEST_ISSUER } });

  beforeAll(async () => {
    dir = tempDir("talos-auth-mt-");
    writeIn(dir, "a.yaml", tokensYaml(TENANT, "tenant-a-ops"));
    writeIn(dir, "b.yaml", "quota:\n  api_keys_max: 100\n");
    file = writeIn(
      dir,
      "talos.yaml",
      tokensYaml(MAIN, "main-ops") +
        "multitenancy:\n  enabled: true\n  networks:\n" +
        "    - { hostname: a.test, id: 0b9e7c1e-5a43-4f11-9a0e-3f3f0f6f4a01, config_path: a.yaml }\n" +
        "    - { hostname: b.test, id: 6c1a5b0e-1d2e-4c3f-8a4b-5c6d7e8f9a02, config_path: b.yaml }\n",
    );
    const loaded = load();
    server = await createServer(loaded.config, { logger: silentLogger, migrate: true, networks: loaded.networks });
    port = (await server.listen("all", { host: "127.0.0.1", port: 0 })).port;
  });
  afterAll(() => server?.close());

  it("a network with its own admin_auth accepts only its tokens; the others inherit the main file's", async () => {
    expect((await hostCall(port, "a.test", "GET", LIST, undefined, bearer(TENANT))).status).toBe(200);
    expect((await hostCall(port, "a.test", "GET", LIST, undefined, bearer(MAIN))).status).toBe(401);
    expect((await hostCall(port, "a.test", "GET", LIST)).status).toBe(401);
    expect((await hostCall(port, "b.test", "GET", LIST, undefined, bearer(MAIN))).status).toBe(200);
    expect((await hostCall(port, "b.test", "GET", LIST, undefined, bearer(TENANT))).status).toBe(401);
  });

  it("a reload rotates a network's token without a restart", async () => {
    writeIn(dir, "a.yaml", tokensYaml(ROTATED, "tenant-a-ops"));
    const r = await server.reload(load, "test");
    expect(r.outcome).toBe("applied");
    expect((await hostCall(port, "a.test", "GET", LIST, undefined, bearer(ROTATED))).status).toBe(200);
    expect((await hostCall(port, "a.test", "GET", LIST, undefined, bearer(TENANT))).status).toBe(401);
    expect((await hostCall(port, "b.test", "GET", LIST, undefined, bearer(MAIN))).status).toBe(200);
  });

  it("a network file may set serve.admin_auth but no other serve key", () => {
    writeIn(dir, "a.yaml", "serve:\n  http:\n    port: 1\n");
    expect(() => load()).toThrow(/serve\.http: cannot be set per network/);
    writeIn(dir, "a.yaml", tokensYaml(ROTATED, "tenant-a-ops"));
  });
});
