import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { E2E_TIMEOUT_MS, REPO_ROOT, startTalos, stopAllTalos } from "../support/process.js";

/**
 * The README promises that every curl example of "Using the API" works as written against
 * `npm start`, also when run again. This runs them, in order, as one bash script against
 * `talos serve --dev`, twice against the same server.
 */
function usingTheApiScript(): string {
  const readme = readFileSync(`${REPO_ROOT}/README.md`, "utf8");
  const start = readme.indexOf("## Using the API");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end);
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  // The migration recipe reads an export file the reader has; everything else runs as is.
  return blocks.filter((b) => !b.includes("export.json")).join("\n");
}

function bash(script: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("bash", ["-euo", "pipefail", "-c", script], { cwd, timeout: E2E_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("README examples", () => {
  afterAll(stopAllTalos);

  it(
    "every curl example of 'Using the API' succeeds against `talos serve --dev`, twice in a row",
    async () => {
      const server = await startTalos({ args: ["serve", "--dev"] });
      const apiPort = new URL(server.apiUrl).port;
      const metricsPort = new URL(server.metricsUrl ?? "http://127.0.0.1:4422").port;
      const script = usingTheApiScript().replaceAll("localhost:4420", `127.0.0.1:${apiPort}`).replaceAll("localhost:4422", `127.0.0.1:${metricsPort}`);
      expect(script).toContain("issuedApiKeys");
      for (const run of ["first run", "second run"]) {
        const r = await bash(script, REPO_ROOT); // `npx talos` resolves from the repository
        expect(r.stderr, run).toBe("");
        expect(r.code, run).toBe(0);
        // No example is meant to fail: no error envelope anywhere in the output.
        const errors = r.stdout.match(/.{0,80}"error":\{.{0,160}/g) ?? [];
        expect(errors, run).toEqual([]);
        expect(r.stdout, run).toMatch(/"is_valid":true/);
        expect(r.stdout, run).toMatch(/"token":\{"token":"eyJ/);
        expect(r.stdout, run).toMatch(/"token":\{"token":"mc_v1_/);
        expect(r.stdout, run).toMatch(/"success_count":2/);
        expect(r.stdout, run).toMatch(/HTTP\/1.1 204/);
        // the first issue example answered 201 with a secret, not a replay of the previous run's key
        expect(r.stdout, run).toMatch(/^\{"issued_api_key":\{[^\n]*"name":"ci-bot"[^\n]*\},"secret":"ory_ak_v1_\w+"\}/);
      }
      expect(await server.stop()).toBe(0);
    },
    3 * E2E_TIMEOUT_MS, // two runs of a script that starts `npx talos` three times each
  );
});
