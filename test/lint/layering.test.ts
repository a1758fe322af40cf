/**
 * Guards the lint rules of biome.jsonc: the repository's own config lints a small throw-away tree
 * of files placed at the paths the layering talks about, and every violation must be reported with
 * its rule and message while the allowed imports stay clean.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIOME = join(ROOT, "node_modules/@biomejs/biome/bin/biome");

const LAYERING = "lint/style/noRestrictedImports";
const CYCLE = "lint/suspicious/noImportCycles";
const ENV = "lint/style/noProcessEnv";

/** path -> [source, rule, message fragment] for each file that must be reported. */
const violations: Record<string, [string, string, string]> = {
  "packages/core/src/hono.ts": ['export { Hono } from "hono";\n', LAYERING, "packages/core must not import Hono"],
  "packages/core/src/hono-server.ts": ['export { serve } from "@hono/node-server";\n', LAYERING, "must not import Hono"],
  "packages/core/src/http.ts": ['export { toTalosError } from "@talos/http";\n', LAYERING, "packages/core must not import packages/http"],
  "packages/core/src/app.ts": ['export { createPublicApp } from "@talos/public";\n', LAYERING, "packages/core must not import apps/*"],
  "packages/core/src/env.ts": ["export const dsn = process.env.TALOS_DB_DSN;\n", ENV, "process.env"],
  "packages/core/src/services/driver.ts": ['export { openStore } from "../store/open.js";\n', LAYERING, "not its internals"],
  "packages/core/src/verify/drizzle.ts": ['export { sql } from "drizzle-orm";\n', LAYERING, "only inside packages/core/src/store"],
  "packages/core/src/store/upward.ts": ['export { issueKey } from "../services/index.js";\n', LAYERING, "store is the bottom layer"],
  "packages/http/src/app-import.ts": ['export { createAdminApp } from "@talos/admin";\n', LAYERING, "packages/http must not import apps/*"],
  "packages/http/src/dynamic.ts": ['export const load = () => import("@talos/server");\n', LAYERING, "packages/http must not import packages/server"],
  "packages/http/src/deep.ts": ['export { createRepo } from "@talos/core/src/store/repo.js";\n', LAYERING, "deep path"],
  "packages/http/src/relative.ts": ['export { createAdminApp } from "../../../apps/admin/src/index.js";\n', LAYERING, "relative path"],
  "apps/admin/src/drizzle.ts": ['export { sql } from "drizzle-orm";\n', LAYERING, "an app never imports drizzle"],
  "apps/admin/src/postgres.ts": ['export { default } from "postgres";\n', LAYERING, "database driver"],
  "apps/public/src/pglite.ts": ['export { PGlite } from "@electric-sql/pglite";\n', LAYERING, "database driver"],
  "apps/public/src/server.ts": ['export { createServer } from "@talos/server";\n', LAYERING, "apps/* must not import packages/server"],
  "apps/public/src/cli.ts": ['export { main } from "@talos/cli";\n', LAYERING, "apps/* must not import packages/cli"],
  "apps/public/src/peer.ts": ['export { createAdminApp } from "@talos/admin";\n', LAYERING, "apps are peers"],
  "apps/admin/src/console.tsx": ['export { createConsoleApp } from "@talos/console";\n', LAYERING, "apps are peers"],
  "apps/console/src/server.ts": ['export { createServer } from "@talos/server";\n', LAYERING, "apps/* must not import packages/server"],
  "packages/http/src/console.ts": ['export { createConsoleApp } from "@talos/console";\n', LAYERING, "packages/http must not import apps/*"],
  "packages/server/src/cli.ts": ['export { main } from "@talos/cli";\n', LAYERING, "packages/server must not import packages/cli"],
  "packages/server/src/proxy.ts": ['export { startProxy } from "@talos/proxy";\n', LAYERING, "packages/server must not import packages/proxy"],
  "packages/proxy/src/server.ts": ['export { createServer } from "@talos/server";\n', LAYERING, "packages/proxy must not import packages/server"],
  "packages/proxy/src/hono.ts": ['export { Hono } from "hono";\n', LAYERING, "packages/proxy must not import Hono"],
  "packages/proxy/src/deep.ts": ['export { createRepo } from "@talos/core/src/store/repo.js";\n', LAYERING, "deep path"],
  "packages/cli/src/commands/env.ts": ["export const home = process.env.HOME;\n", ENV, "process.env"],
  // a circle through value imports, and one through `import type` only
  "packages/core/src/verify/circle-a.ts": ['import { b } from "./circle-b.js";\nexport const a = () => b;\n', CYCLE, "cycle"],
  "packages/core/src/verify/circle-b.ts": ['import { a } from "./circle-a.js";\nexport const b = () => a;\n', CYCLE, "cycle"],
  "packages/http/src/type-a.ts": ['import type { B } from "./type-b.js";\nexport type A = { b?: B };\n', CYCLE, "cycle"],
  "packages/http/src/type-b.ts": ['import type { A } from "./type-a.js";\nexport type B = { a?: A };\n', CYCLE, "cycle"],
};

/** Files that must produce no diagnostic at all. */
const allowed: Record<string, string> = {
  "packages/cli/src/env.ts": "export const env = () => ({ ...process.env });\n",
  "packages/cli/src/serve.ts": 'export { createServer } from "@talos/server";\nexport { version } from "@talos/core/version";\n',
  "packages/cli/src/proxy.ts": 'export { startProxy } from "@talos/proxy";\n',
  "packages/proxy/src/core.ts": 'export { loadProxyConfig } from "@talos/core";\nexport { Agent } from "undici";\n',
  "packages/server/src/apps.ts":
    'export { createAdminApp } from "@talos/admin";\nexport { createPublicApp } from "@talos/public";\nexport { createConsoleApp } from "@talos/console";\nexport { toTalosError } from "@talos/http";\n',
  "apps/console/src/page.tsx": 'export { Hono } from "hono";\nexport { parseWith } from "@talos/http";\nexport { issueKey } from "@talos/core";\n',
  "apps/admin/src/route.ts": 'export { Hono } from "hono";\nexport { toTalosError } from "@talos/http";\nexport { openStore } from "@talos/core";\n',
  "packages/http/src/core.ts": 'export { TalosError } from "@talos/core";\nexport { serve } from "@hono/node-server";\n',
  "packages/core/src/services/store-types.ts":
    'export type { Store } from "../store/types.js";\nexport { StoreUnavailableError } from "../store/errors.js";\nexport { openStore } from "../store/index.js";\n',
  "packages/core/src/store/driver.ts":
    'export type { KeyRecord } from "../types.js";\nexport { sql } from "drizzle-orm";\nexport { default as postgres } from "postgres";\n',
  "packages/core/src/store/store.test.ts": "export const dsn = process.env.TALOS_TEST_DSN;\n",
  "test/http/anything.test.ts":
    'export { buildServer } from "../../packages/cli/src/server/build.js";\nexport { sql } from "drizzle-orm";\nexport const dsn = process.env.TALOS_TEST_DSN;\n',
  "bench/anything.ts": 'export { sql } from "drizzle-orm";\nexport const dsn = process.env.TALOS_BENCH_DSN;\n',
};

interface Diagnostic {
  category: string;
  message: string;
  location: { path: string | { file: string } };
}

let dir: string;
let diagnostics: Diagnostic[];
const pathOf = (d: Diagnostic) => (typeof d.location.path === "string" ? d.location.path : d.location.path.file);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "talos-lint-"));
  copyFileSync(join(ROOT, "biome.jsonc"), join(dir, "biome.jsonc"));
  const files = { ...allowed, ...Object.fromEntries(Object.entries(violations).map(([p, [src]]) => [p, src])) };
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  // exit code 1 is expected (there are errors); the JSON report is on stdout either way
  const run = promisify(execFile)(process.execPath, [BIOME, "lint", "--vcs-enabled=false", "--reporter=json", "--max-diagnostics=none", "."], {
    cwd: dir,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stdout?: string; stderr?: string }) => {
    if (!err.stdout) throw new Error(`biome failed without a report: ${err.stderr}`);
    return { stdout: err.stdout };
  });
  diagnostics = (JSON.parse((await run).stdout) as { diagnostics: Diagnostic[] }).diagnostics;
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("lint rules (biome.jsonc)", () => {
  it.each(Object.entries(violations))("reports %s", (path, [, rule, fragment]) => {
    const found = diagnostics.filter((d) => pathOf(d) === path);
    expect(found.map((d) => `${d.category}: ${d.message}`)).toContainEqual(
      expect.stringMatching(new RegExp(`^${rule}: .*${escapeRegExp(fragment)}`)),
    );
  });

  it.each(Object.keys(allowed))("allows %s", (path) => {
    expect(diagnostics.filter((d) => pathOf(d) === path).map((d) => `${d.category}: ${d.message}`)).toEqual([]);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
