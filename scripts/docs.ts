/** `npm run docs`: regenerates docs/api.md and docs/configuration.md from the zod schemas. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateDocs } from "./docs-gen.js";

const root = join(fileURLToPath(new URL(".", import.meta.url)), "..");
for (const [path, text] of Object.entries(generateDocs())) {
  writeFileSync(join(root, path), text);
  console.log(`wrote ${path}`);
}
