#!/usr/bin/env node
// Rewrites citations of the old, out-of-repository contract ("<SPEC> §7.2", bare "§7.2", "<DESIGN> habit 5")
// into links to docs/ (docs/verification.md#pipeline). Re-runnable: a rewritten file has nothing left to
// rewrite. Exits 1 listing every mention it could not map. Usage: node scripts/cite-docs.mjs [--check]
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
// Spelled in pieces so that this file does not mention the documents it replaces.
const SPEC = "SPEC";
const DESIGN = "DESIGN" + ".md";

/** Section of the old contract → the docs/ page (and anchor) that states the same behaviour. */
export const SECTIONS = {
  1: "docs/keys.md#concepts",
  2: "docs/server.md#processes-surfaces-and-ports",
  3: "docs/wire.md",
  3.1: "docs/wire.md#json-responses",
  3.2: "docs/wire.md#json-requests",
  3.3: "docs/wire.md#durations",
  3.4: "docs/wire.md#paths-and-query-strings",
  3.5: "docs/wire.md#headers",
  4: "docs/wire.md#endpoints",
  5: "docs/wire.md#resources",
  5.1: "docs/wire.md#api-key-resource",
  5.2: "docs/wire.md#nested-messages",
  5.3: "docs/wire.md#enums",
  5.4: "docs/wire.md#response-wrappers",
  5.5: "docs/wire.md#small-request-bodies",
  6: "docs/keys.md#common-rules",
  6.1: "docs/keys.md#issue",
  6.2: "docs/keys.md#list",
  6.3: "docs/keys.md#get",
  6.4: "docs/keys.md#update",
  6.5: "docs/keys.md#rotate",
  6.6: "docs/keys.md#revoke",
  6.7: "docs/keys.md#import",
  6.8: "docs/keys.md#revoke-alias",
  6.9: "docs/keys.md#batch-import",
  "6.10": "docs/keys.md#delete",
  6.11: "docs/keys.md#self-revocation",
  6.12: "docs/keys.md#idempotency",
  7: "docs/verification.md",
  7.1: "docs/verification.md#credential-routing",
  7.2: "docs/verification.md#pipeline",
  7.3: "docs/verification.md#verification-error-codes",
  7.4: "docs/verification.md#verify-response",
  7.5: "docs/verification.md#batch-verify",
  8: "docs/keys.md#issued-key-format",
  9: "docs/keys.md#imported-key-ids",
  10: "docs/derived-tokens.md",
  10.1: "docs/derived-tokens.md#derive",
  10.2: "docs/derived-tokens.md#jwt",
  10.3: "docs/derived-tokens.md#macaroon",
  10.4: "docs/derived-tokens.md#jwks",
  11: "docs/keys.md#listing-filters-and-page-tokens",
  11.1: "docs/keys.md#filters",
  11.2: "docs/keys.md#page-tokens",
  12: "docs/wire.md#errors",
  12.1: "docs/wire.md#error-envelope",
  12.2: "docs/wire.md#error-ids",
  12.3: "docs/wire.md#statuses-per-endpoint",
  13: "docs/verification.md#cache",
  14: "docs/verification.md#rate-limits",
  14.1: "docs/verification.md#gcra",
  14.2: "docs/verification.md#rate-limit-backends",
  14.3: "docs/verification.md#rate-limit-headers",
  15: "docs/verification.md#last-used-time",
  16: "docs/server.md#health-version-metrics-and-logs",
  17: "docs/configuration.md",
  18: "docs/server.md#databases-and-migrations",
  19: "docs/cli.md",
  19.1: "docs/cli.md#server-commands",
  19.2: "docs/cli.md#client-commands",
  20: "docs/compatibility.md#beyond-the-reference",
  20.1: "docs/verification.md#gateway-verify",
  21: "docs/compatibility.md#compatibility-promises",
  21.1: "docs/compatibility.md#issued-key-compatibility",
  21.2: "docs/compatibility.md#imported-key-compatibility",
  21.3: "docs/compatibility.md#derived-token-compatibility",
  21.4: "docs/compatibility.md#http-and-sdk-compatibility",
  21.5: "docs/compatibility.md#not-promised",
  22: "docs/compatibility.md#test-vectors",
};

const REF = String.raw`\d+(?:\.\d+)?(?:\s*[–-]\s*\d+(?:\.\d+)?)?`;
const SEP = String.raw`(?:,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+)`;
/** "<SPEC>[.md] §a, §b and §c": one run of citations; the continuations may omit their "§". */
const RUN = new RegExp(String.raw`${SPEC}(?:\.md)?\s*§\s*(${REF})((?:${SEP}§\s*${REF}|${SEP}${REF}(?![\w.]))*)`, "g");
/** A bare "§7.2" (the old contract was the only document cited by section); not "RFC 9110 §15". */
const BARE = new RegExp(String.raw`(?<!RFC\s?\d+\s?)§\s*(${REF})`, "g");

const PHRASES = [
  [new RegExp(`the ${SPEC} list`, "g"), "the reference's list"],
  [new RegExp(`in ${SPEC} order`, "g"), "in the documented order"],
  [new RegExp(String.raw`\(${DESIGN.replace(".", "\\.")}, Testing\)`, "g"), "(docs/architecture.md#tests)"],
  [new RegExp(String.raw`${DESIGN.replace(".", "\\.")} habit \d+`, "g"), "docs/architecture.md#habits"],
  [new RegExp(DESIGN.replace(".", "\\."), "g"), "docs/architecture.md"],
];

/** "6.2–6.4" → ["6.2", "6.3", "6.4"]; a plain "7.2" → ["7.2"]. Unknown parts stay as given (reported). */
function expand(ref) {
  const m = /^(\d+(?:\.\d+)?)\s*[–-]\s*(\d+(?:\.\d+)?)$/.exec(ref.trim());
  if (!m) return [ref.trim()];
  const [a, b] = [m[1], m[2]];
  const [amaj, amin] = a.split(".").map(Number);
  const [bmaj, bmin] = b.includes(".") ? b.split(".").map(Number) : [amaj, Number(b)];
  if (amin === undefined || bmaj !== amaj || bmin < amin) return [a, b];
  return Array.from({ length: bmin - amin + 1 }, (_, i) => `${amaj}.${amin + i}`);
}

/** The docs/ link(s) for one reference, or null (and a problem) when a section has no mapping. */
function link(ref, problems) {
  const targets = expand(ref).map((r) => [r, SECTIONS[r]]);
  const missing = targets.filter(([, t]) => t === undefined).map(([r]) => r);
  if (missing.length > 0) {
    for (const r of missing) if (!problems.includes(r)) problems.push(r);
    return null;
  }
  return targets
    .map(([, t]) => t)
    .filter((t, i, all) => all.indexOf(t) === i)
    .join(", ");
}

/** Returns the rewritten text and what could not be mapped. Pure, for the tests. */
export function rewrite(text) {
  const problems = [];
  let out = text.replace(RUN, (all, first, rest) => {
    const parts = [link(first, problems)];
    const more = new RegExp(String.raw`(${SEP})§?\s*(${REF})`, "g");
    for (const m of rest.matchAll(more)) {
      const l = link(m[2], problems);
      parts.push(l === null ? null : m[1] + l);
    }
    return parts.includes(null) ? all : parts.join("");
  });
  out = out.replace(BARE, (all, ref) => link(ref, problems) ?? all);
  for (const [re, by] of PHRASES) out = out.replace(re, by);
  return { text: out, problems: problems.map((r) => `§${r}: no docs/ section mapped`) };
}

/** Mentions of documents outside the repository that remain after rewriting. */
export function leftovers(text) {
  const found = [];
  const re = new RegExp(String.raw`\b${SPEC}\b|${DESIGN.replace(".", "\\.")}|\.\./shared|/work/shared`, "g");
  text.split("\n").forEach((line, i) => {
    if (re.test(line)) found.push({ line: i + 1, text: line.trim() });
    re.lastIndex = 0;
  });
  return found;
}

// docs/ is the target; vendored fixtures are kept byte for byte
const SKIP = /^(docs\/|test\/fixtures\/|package-lock\.json$|scripts\/cite-docs\.mjs$)|\.(png|jpg|ico|gz|woff2?)$/;

function main() {
  const check = process.argv.includes("--check");
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
    .split("\0")
    .filter((f) => f && !SKIP.test(f));
  const report = [];
  let changed = 0;
  for (const file of files) {
    let text;
    try {
      text = readFileSync(join(ROOT, file), "utf8");
    } catch {
      continue; // deleted in the work tree
    }
    const { text: out, problems } = rewrite(text);
    for (const p of problems) report.push(`${file}: ${p}`);
    for (const l of leftovers(out)) report.push(`${file}:${l.line}: unmapped mention: ${l.text}`);
    if (out !== text) {
      changed++;
      if (!check) writeFileSync(join(ROOT, file), out);
      else report.push(`${file}: has citations to rewrite`);
    }
  }
  console.log(`${check ? "would rewrite" : "rewrote"} ${changed} file(s)`);
  if (report.length > 0) {
    console.error(report.join("\n"));
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
