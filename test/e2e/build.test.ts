/**
 * The production build: `npm run build` compiles every workspace to dist/, and the compiled CLI
 * serves under plain `node` with no TypeScript loader and no sources at all (as in the image).
 * Runs in a temporary copy of the repository so a dist/ never lands in the working tree.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/process.js";

const WORKSPACES = ["packages/core", "packages/http", "packages/server", "packages/proxy", "packages/cli", "apps/admin", "apps/public", "apps/console"];

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 300_000) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The environment without anything that could put a TypeScript loader into node. */
function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("TALOS_") || k === "DSN" || k.startsWith("NODE_") || k.startsWith("VITEST") || k === "TSX_TSCONFIG_PATH") continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

describe("npm run build → compiled talos under plain node", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "talos-build-"));

  beforeAll(async () => {
    // sources, migrations and build config; node_modules links to the repository's packages
    // except the workspace links, which point into the copy
    for (const entry of ["package.json", "tsconfig.base.json", "tsconfig.build.json", "drizzle", ...WORKSPACES]) {
      cpSync(path.join(REPO_ROOT, entry), path.join(dir, entry), {
        recursive: true,
        filter: (src) => !/[/\\](node_modules|dist|\.talos)([/\\]|$)/.test(src.slice(REPO_ROOT.length)),
      });
    }
    mkdirSync(path.join(dir, "node_modules/@talos"), { recursive: true });
    for (const name of readdirSync(path.join(REPO_ROOT, "node_modules"))) {
      if (name === "@talos") continue;
      symlinkSync(path.join(REPO_ROOT, "node_modules", name), path.join(dir, "node_modules", name));
    }
    for (const ws of WORKSPACES) symlinkSync(path.join(dir, ws), path.join(dir, "node_modules/@talos", path.basename(ws)));
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("compiles every workspace to dist/ (no tests in the output)", async () => {
    const t0 = performance.now();
    const r = await run("npm", ["run", "build"], dir);
    console.info(`[build figures] npm run build: ${Math.round(performance.now() - t0)} ms`);
    expect(r.code, r.out).toBe(0);
    for (const ws of WORKSPACES) {
      expect(existsSync(path.join(dir, ws, "dist/index.js")) || existsSync(path.join(dir, ws, "dist/main.js")), ws).toBe(true);
    }
    expect(existsSync(path.join(dir, "packages/core/dist/store/open.js"))).toBe(true);
    expect(existsSync(path.join(dir, "packages/core/dist/store/open.test.js"))).toBe(false);
    expect(existsSync(path.join(dir, "packages/core/dist/keys/issued-key.test.js"))).toBe(false);
  }, 400_000);

  it("a stale dist/ never shadows the sources during development; TALOS_USE_DIST=1 picks dist/", async () => {
    const bin = path.join(dir, "packages/cli/bin/talos.mjs");
    writeFileSync(path.join(dir, "packages/core/src/version.ts"), 'export const VERSION = "0.0.0-edited-source";\n');
    const fromSource = await run(process.execPath, [bin, "version"], dir, plainEnv());
    expect(fromSource.out.trim()).toBe("0.0.0-edited-source");
    const fromDist = await run(process.execPath, [bin, "version"], dir, plainEnv({ TALOS_USE_DIST: "1" }));
    expect(fromDist.out.trim()).not.toBe("0.0.0-edited-source");
    expect(fromDist.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  }, 120_000);

  it("node packages/cli/dist/main.js serve: ready, issues and verifies, with no sources and no loader", async () => {
    // like the image: no TypeScript anywhere, so nothing but compiled JavaScript can run
    for (const ws of WORKSPACES) rmSync(path.join(dir, ws, "src"), { recursive: true, force: true });
    rmSync(path.join(dir, "node_modules/tsx"), { force: true });

    const child = spawn(process.execPath, ["packages/cli/dist/main.js", "serve"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
      env: plainEnv({
        TALOS_DB_DSN: "memory",
        TALOS_SECRETS_HMAC_CURRENT: "build-test-hmac-secret-0123456789abcdef",
        TALOS_CREDENTIALS_ISSUER: "https://build.e2e.talos.test",
        TALOS_SERVE_HTTP_HOST: "127.0.0.1",
        TALOS_SERVE_HTTP_PORT: "0",
        TALOS_SERVE_METRICS_HOST: "127.0.0.1",
        TALOS_SERVE_METRICS_PORT: "0",
        TALOS_PRINT_PORTS: "1",
      }),
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const ports = await new Promise<[number, number]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no TALOS_PORTS line within 60 s\n${stderr}`)), 60_000);
        createInterface({ input: child.stdout }).on("line", (line) => {
          const m = /^TALOS_PORTS (\d+) (\d+)$/.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve([Number(m[1]), Number(m[2])]);
          }
        });
        void exited.then((code) => reject(new Error(`exited with ${code}\n${stderr}`)));
      });
      const api = `http://127.0.0.1:${ports[0]}`;
      // the process runs plain node: no --import / --loader / --conditions
      expect(child.spawnargs.slice(1)).toEqual(["packages/cli/dist/main.js", "serve"]);

      expect((await fetch(`http://127.0.0.1:${ports[1]}/health/ready`)).status).toBe(200);
      expect((await fetch(`${api}/health/ready`)).status).toBe(200);
      const issued = await fetch(`${api}/v2alpha1/admin/issuedApiKeys`, { method: "POST", body: JSON.stringify({ name: "build", actor_id: "build-test" }) });
      expect(issued.status).toBe(201);
      const { secret } = (await issued.json()) as { secret: string };
      const verified = await fetch(`${api}/v2alpha1/admin/apiKeys:verify`, { method: "POST", body: JSON.stringify({ credential: secret }) });
      expect(((await verified.json()) as { is_valid: boolean }).is_valid).toBe(true);
      const gw = await fetch(`${api}/gateway/verify`, { headers: { Authorization: `Bearer ${secret}` } });
      expect(gw.status).toBe(200);
      expect(gw.headers.get("x-talos-actor-id")).toBe("build-test");
    } finally {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
  }, 120_000);
});
