/**
 * Admin authentication end to end (docs/admin-auth.md): a real `talos serve` with tokens on, driven
 * by the Ory SDK (accessToken), the CLI (--token, TALOS_ADMIN_TOKEN) and `talos admin-token generate`.
 */
import { ApiKeysApi, Configuration } from "@ory/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2E_TIMEOUT_MS, runTalos, startTalos, stopAllTalos, type TalosProcess } from "../support/process.js";

let token = "";
let readToken = "";
let talos: TalosProcess;

const entryOf = (stdout: string) => JSON.parse(/entry: (\{.*\})/.exec(stdout)![1]!);
const tokenOf = (stdout: string) => /^token: (\S+)$/m.exec(stdout)![1]!;

beforeAll(async () => {
  const gen = await runTalos(["admin-token", "generate", "--name", "ci-bot", "--permissions", "keys:read,keys:write,keys:verify"]);
  expect(gen.code).toBe(0);
  token = tokenOf(gen.stdout);
  const genRead = await runTalos(["admin-token", "generate", "--name", "reader", "--permissions", "keys:read"]);
  readToken = tokenOf(genRead.stdout);
  const tokens = [entryOf(gen.stdout), entryOf(genRead.stdout)];
  expect(JSON.stringify(tokens)).not.toContain(token);
  talos = await startTalos({
    args: ["serve"],
    env: {
      TALOS_DB_DSN: "memory",
      TALOS_SECRETS_HMAC_CURRENT: "e2e-admin-auth-secret-0123456789abcdef",
      TALOS_CREDENTIALS_ISSUER: "https://auth.e2e.talos.test",
      TALOS_SERVE_ADMIN_AUTH_MODE: "tokens",
      TALOS_SERVE_ADMIN_AUTH_TOKENS: JSON.stringify(tokens),
    },
  });
}, E2E_TIMEOUT_MS);
afterAll(stopAllTalos);

describe("talos serve with admin tokens", () => {
  it("the Ory SDK with accessToken works; without it, 401", async () => {
    const sdk = new ApiKeysApi(new Configuration({ basePath: talos.apiUrl, accessToken: token }));
    const issued = await sdk.adminIssueApiKey({ issueApiKeyRequest: { name: "sdk", actor_id: "auth-e2e" } });
    expect(issued.data.secret).toMatch(/^ory_ak_/);
    const v = await sdk.adminVerifyApiKey({ verifyApiKeyRequest: { credential: issued.data.secret! } });
    expect(v.data.is_valid).toBe(true);

    const anonymous = new ApiKeysApi(new Configuration({ basePath: talos.apiUrl }));
    const err = await anonymous.adminListIssuedApiKeys().catch((e: unknown) => e);
    expect((err as { response: { status: number; headers: Record<string, string> } }).response.status).toBe(401);
    expect((err as { response: { headers: Record<string, string> } }).response.headers["www-authenticate"]).toContain("Bearer");
    const reader = new ApiKeysApi(new Configuration({ basePath: talos.apiUrl, accessToken: readToken }));
    const denied = await reader.adminIssueApiKey({ issueApiKeyRequest: { actor_id: "x" } }).catch((e: unknown) => e);
    expect((denied as { response: { status: number } }).response.status).toBe(403);
  });

  it("the CLI takes --token or TALOS_ADMIN_TOKEN", async () => {
    const withFlag = await runTalos(["keys", "issue", "cli-key", "--actor", "auth-e2e", "-e", talos.apiUrl, "--token", token, "-q"]);
    expect(withFlag.code, withFlag.stderr).toBe(0);
    const withEnv = await runTalos(["keys", "issued", "list", "-e", talos.apiUrl, "-q"], { TALOS_ADMIN_TOKEN: readToken });
    expect(withEnv.code, withEnv.stderr).toBe(0);
    const without = await runTalos(["keys", "issued", "list", "-e", talos.apiUrl]);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain("credential");
  });

  it("audit records name the principal, never the token; no 'no authentication' warning", async () => {
    const audit = talos.logs().filter((l) => l.msg === "audit" && l.event === "APIKeyCreated");
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.every((l) => l.principal === "ci-bot")).toBe(true);
    const all = talos.stdout.join("\n") + talos.stderr.join("\n");
    expect(all).not.toContain(token);
    expect(all).not.toContain("has no built-in authentication");
  });
});
