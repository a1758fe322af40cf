/**
 * README.md "Protecting the admin API" stays true to the code: every YAML example and the
 * environment example load through the configuration loader (an unknown or misspelt key fails), and
 * the printed shape of `talos admin-token generate` is what the command prints.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { hashAdminToken, loadConfig } from "@talos/core";
import { E2E_TIMEOUT_MS, REPO_ROOT, fetchJson, runTalos, startTalos, stopAllTalos } from "./support/process.js";

afterAll(stopAllTalos);

const readme = readFileSync(`${REPO_ROOT}/README.md`, "utf8");
const start = readme.indexOf("## Protecting the admin API");
const chapter = readme.slice(start, readme.indexOf("\n## ", start + 1));
const REQUIRED_ENV = { TALOS_SECRETS_HMAC_CURRENT: "x".repeat(40), TALOS_CREDENTIALS_ISSUER: "https://keys.example.com" };
const REQUIRED = { "db.dsn": "memory", "secrets.hmac.current": "x".repeat(40), "credentials.issuer": "https://keys.example.com" };
// the examples elide the hash; any well-formed one stands in
const filled = (text: string) => text.replaceAll("sha256:…", hashAdminToken("talos_at_example"));

/** A parsed config file as the loader's dotted leaf paths (lists are leaves). */
function leaves(value: unknown, prefix = ""): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { [prefix]: value };
  return Object.assign({}, ...Object.entries(value).map(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k)));
}

describe("README: Protecting the admin API", () => {
  const yamlBlocks = [...chapter.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it("has the four options' examples", () => {
    expect(start).toBeGreaterThan(readme.indexOf("## Running admin and public separately"));
    expect(yamlBlocks.length).toBe(3);
    for (const mode of ["mode: tokens", "mode: jwt", "mode: mtls", "none"]) expect(chapter).toContain(mode);
  });

  it.each(yamlBlocks.map((b, i) => [i, b] as const))("YAML example %i loads", (_i, block) => {
    const overrides = { ...REQUIRED, ...leaves(parse(filled(block))) };
    const { config } = loadConfig({ env: {}, overrides });
    expect(config.serve.admin_auth.mode).not.toContain("none");
  });

  it("the environment example loads", () => {
    const env = Object.fromEntries(
      [...filled(chapter).matchAll(/(TALOS_SERVE_ADMIN_AUTH_[A-Z_]+)=('[^']*'|\w+)/g)].map((m) => [m[1]!, m[2]!.replace(/^'|'$/g, "")]),
    );
    expect(Object.keys(env).sort()).toEqual(["TALOS_SERVE_ADMIN_AUTH_MODE", "TALOS_SERVE_ADMIN_AUTH_TOKENS"]);
    const { config } = loadConfig({ env, overrides: REQUIRED });
    expect(config.serve.admin_auth.tokens[0]!.permissions).toEqual(["keys:read", "keys:write"]);
  });

  it("`talos admin-token generate` prints what the chapter shows", async () => {
    const cmd = /npx talos (admin-token generate [^\n]+)/.exec(chapter)![1]!.split(" ");
    const r = await runTalos(cmd, {});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^token: talos_at_\S+$/m);
    const entry = /^serve\.admin_auth\.tokens entry: (.*)$/m.exec(r.stdout)![1]!;
    expect(chapter).toContain(`# serve.admin_auth.tokens entry: ${entry.replace(/sha256:[0-9a-f]{64}/, "sha256:…")}`);
  }, 60_000);

  it("the compose demo: the secured profile's token settings refuse no token and serve the CLI with the demo token", async () => {
    const compose = parse(readFileSync(`${REPO_ROOT}/docker-compose.yml`, "utf8"), { merge: true }) as { services: Record<string, { environment: Record<string, string> }> };
    const env = compose.services["talos-secured"]!.environment;
    const server = await startTalos({
      args: ["serve", "admin"],
      env: { TALOS_DB_DSN: "memory", ...REQUIRED_ENV, TALOS_SERVE_ADMIN_AUTH_MODE: env.TALOS_SERVE_ADMIN_AUTH_MODE, TALOS_SERVE_ADMIN_AUTH_TOKENS: env.TALOS_SERVE_ADMIN_AUTH_TOKENS },
    });
    expect((await fetchJson(`${server.apiUrl}/v2alpha1/admin/issuedApiKeys`)).status).toBe(401);
    const token = /export TALOS_ADMIN_TOKEN=(\S+)/.exec(chapter)![1]!;
    const cli = /npx talos (keys issued list -e \S+)/.exec(chapter)![1]!.split(" ");
    cli[cli.length - 1] = server.apiUrl;
    const ok = await runTalos(cli, { TALOS_ADMIN_TOKEN: token });
    expect(ok.code, ok.stderr).toBe(0);
    const refused = await runTalos(cli, {});
    expect(refused.code).toBe(1);
  }, E2E_TIMEOUT_MS);
});
