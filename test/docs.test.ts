/**
 * The documentation in docs/ stays true to the code: the generated reference pages match the schemas,
 * code cites docs/ anchors that exist, and nothing points at documents outside the repository.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { generateDocs } from "../scripts/docs-gen.js";
import { leftovers, rewrite } from "../scripts/cite-docs.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TEXT = /\.(ts|mts|mjs|js|json|md|conf|ya?ml|sh|sql)$|(^|\/)(Dockerfile|run)$/;

/** Files of the work tree that git would commit (tracked or new, not ignored); a plain walk without git. */
function repositoryFiles(): string[] {
  let all: string[];
  try {
    const out = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" });
    all = [...new Set(out.split("\0"))];
  } catch {
    all = walk("");
  }
  return all.filter((f) => f && TEXT.test(f) && f !== "package-lock.json" && existsSync(join(ROOT, f)));
}

function walk(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = dir === "" ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory()) return /^(node_modules|\.git|dist|\.talos|coverage)$/.test(e.name) ? [] : walk(path);
    return [path];
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (m)
      anchors.add(
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, "")
          .replaceAll(" ", "-"),
      );
  }
  return anchors;
}

describe("generated reference pages", () => {
  for (const [path, text] of Object.entries(generateDocs())) {
    it(`${path} is current`, () => {
      const committed = existsSync(join(ROOT, path)) ? readFileSync(join(ROOT, path), "utf8") : "";
      expect(committed === text, `${path} is stale: run \`npm run docs\` and commit the result`).toBe(true);
    });
  }

  it("renders the same text twice", () => {
    expect(generateDocs()).toEqual(generateDocs());
  });
});

describe("links into docs/", () => {
  const files = repositoryFiles();

  it("every docs/… link and #anchor cited in the repository exists", () => {
    const broken: string[] = [];
    const check = (from: string, target: string) => {
      const [file, anchor] = target.split("#") as [string, string | undefined];
      const full = join(ROOT, file);
      if (!existsSync(full)) return broken.push(`${from}: ${target} (no such file)`);
      if (anchor && file.endsWith(".md") && !anchorsOf(readFileSync(full, "utf8")).has(anchor)) broken.push(`${from}: ${target} (no such heading)`);
    };
    for (const f of files) {
      const text = readFileSync(join(ROOT, f), "utf8");
      // code and prose outside docs/ cite repository paths: docs/keys.md#issue
      if (!f.startsWith("docs/")) for (const m of text.matchAll(/\bdocs\/[\w./-]*\.md(?:#[\w-]+)?/g)) check(f, m[0]);
      // markdown links are relative to their file: [x](keys.md#issue), [y](#pipeline)
      if (f.endsWith(".md")) {
        for (const m of text.matchAll(/\]\(([^)\s]*)\)/g)) {
          const target = m[1]!;
          if (/^[a-z]+:/.test(target)) continue;
          const [file, anchor] = target.split("#") as [string, string | undefined];
          const resolved = file === "" ? f : normalize(join(dirname(f), file));
          check(f, anchor === undefined ? resolved : `${resolved}#${anchor}`);
        }
      }
    }
    expect(broken, "broken links into docs/").toEqual([]);
  });

  it("nothing cites a document outside the repository (run `node scripts/cite-docs.mjs`)", () => {
    const found: string[] = [];
    for (const f of files) {
      // docs/ is the target; vendored fixtures are kept byte for byte
      if (f.startsWith("docs/") || f.startsWith("test/fixtures/") || f === "scripts/cite-docs.mjs") continue;
      const text = readFileSync(join(ROOT, f), "utf8");
      if (rewrite(text).text !== text) found.push(`${f}: old section citations`);
      for (const l of leftovers(text)) found.push(`${f}:${l.line}: ${l.text}`);
    }
    expect(found).toEqual([]);
  });
});

describe("scripts/cite-docs.mjs", () => {
  const spec = "SP" + "EC.md";
  const S = "\u00a7"; // the section sign, escaped so that the script leaves this file alone

  it("maps runs, ranges and bare sections, and a second run changes nothing", () => {
    const once = rewrite(`a (${spec} ${S}6.4, ${S}6.5); ${spec} ${S}6.2–6.3 and ${S}11. per ${S}14.2`);
    expect(once).toEqual({
      text: "a (docs/keys.md#update, docs/keys.md#rotate); docs/keys.md#list, docs/keys.md#get and docs/keys.md#listing-filters-and-page-tokens. per docs/verification.md#rate-limit-backends",
      problems: [],
    });
    expect(rewrite(once.text).text).toBe(once.text);
  });

  it("leaves an unknown section alone and reports it", () => {
    const out = rewrite(`x (${spec} ${S}99)`);
    expect(out.text).toBe(`x (${spec} ${S}99)`);
    expect(out.problems).toEqual([`${S}99: no docs/ section mapped`]);
    expect(leftovers(out.text)).toHaveLength(1);
  });
});
