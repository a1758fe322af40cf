#!/usr/bin/env node
// Development (src/ present): runs the TypeScript sources through tsx, and the @talos/* packages
// resolve to their sources too, so a stale dist/ never shadows an edit. The compiled output
// (`npm run build`) runs instead when src/ is absent (the container image) or TALOS_USE_DIST=1.
import { existsSync } from "node:fs";
import { register } from "node:module";

const source = new URL("../src/main.ts", import.meta.url);
const compiled = new URL("../dist/main.js", import.meta.url);
if (process.env.TALOS_USE_DIST === "1" || !existsSync(source)) {
  if (!existsSync(compiled)) {
    process.stderr.write("error: packages/cli/dist/main.js is missing: run `npm run build` first\n");
    process.exit(1);
  }
  await import(compiled.href);
} else {
  const { register: registerTsx } = await import("tsx/esm/api");
  registerTsx();
  register("./source-conditions.mjs", import.meta.url);
  await import(source.href);
}
