/**
 * Per-network configuration files (docs/multitenancy.md): each network's file may set a few
 * sections; what it leaves out comes from the main configuration (file, environment, flags).
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse, YAMLError } from "yaml";
import type { z } from "zod";
import { errorCode } from "./dev-secret.js";
import { configSchema } from "./schema.js";
import type { Config, NetworkEntry } from "./types.js";

/** One tenant: its id (the NID of its rows), the host it answers on, and its merged configuration. */
export interface Network {
  readonly id: string;
  readonly hostname: string;
  /** the resolved path of its file (watched for reloads) */
  readonly file: string;
  readonly config: Config;
}

/** What a network file may set; every other key is reported as not settable per network. */
const SETTABLE: Readonly<Record<string, true | readonly string[]>> = {
  credentials: true,
  secrets: ["hmac"],
  quota: true,
  rate_limit: true,
  cache: ["ttl"],
  // a tenant's own admin credentials (docs/admin-auth.md#networks)
  serve: ["admin_auth"],
};

/**
 * Merges every network file over the main input (`raw`, before the schema) and validates the result
 * with the main schema, so cross-field rules hold per network too. `issues` lists every bad field
 * of every network, each line prefixed with the network's entry.
 */
export function resolveNetworks(
  entries: readonly NetworkEntry[],
  raw: Record<string, unknown>,
  mainFile: string | undefined,
  /** paths the main configuration already reports (its own problems are not repeated per network) */
  mainIssues: ReadonlySet<string> = new Set(),
): { networks: Network[]; issues: string[] } {
  const networks: Network[] = [];
  const issues: string[] = [];
  const base = mainFile === undefined ? process.cwd() : dirname(resolve(mainFile));
  entries.forEach((entry, i) => {
    const file = isAbsolute(entry.config_path) ? entry.config_path : resolve(base, entry.config_path);
    const where = `multitenancy.networks[${i}] (${entry.config_path})`;
    const doc = readNetworkFile(file);
    if (typeof doc === "string") {
      issues.push(`${where}: ${doc}`);
      return;
    }
    const before = issues.length;
    for (const [section, value] of Object.entries(doc)) {
      const allowed = SETTABLE[section];
      if (allowed === undefined) issues.push(`${where}: ${section}: cannot be set per network`);
      else if (allowed !== true && isRecord(value)) {
        for (const key of Object.keys(value)) if (!allowed.includes(key)) issues.push(`${where}: ${section}.${key}: cannot be set per network`);
      }
    }
    if (issues.length > before) return;
    const { multitenancy: _, ...main } = raw;
    const parsed = configSchema.safeParse({ ...merge(main, doc), multitenancy: {} });
    if (parsed.success) networks.push({ id: entry.id, hostname: entry.hostname, file, config: parsed.data });
    else
      for (const line of formatIssues(parsed.error.issues)) if (!mainIssues.has(line.slice(0, line.indexOf(":")))) issues.push(`${where}: ${line}`);
  });
  return { networks, issues };
}

/** The file as a mapping, or the problem (never quoting its text: it may hold secrets). */
function readNetworkFile(file: string): Record<string, unknown> | string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    return `cannot read the network file (${errorCode(err)})`;
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    const pos = err instanceof YAMLError ? err.linePos?.[0] : undefined;
    return `invalid YAML or JSON${pos ? ` at line ${pos.line}, column ${pos.col}` : ""}`;
  }
  if (doc === null || doc === undefined) return {};
  return isRecord(doc) ? doc : "the top level must be a mapping of configuration keys";
}

/** `over` on top of `under`: mappings merge key by key, anything else (lists included) replaces. */
function merge(under: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...under };
  for (const [k, v] of Object.entries(over)) {
    const u = out[k];
    out[k] = isRecord(u) && isRecord(v) ? merge(u, v) : v;
  }
  return out;
}

function formatIssues(zodIssues: readonly z.core.$ZodIssue[]): string[] {
  return zodIssues.flatMap((issue) => {
    const path = issue.path
      .map((s) => (typeof s === "number" ? `[${s}]` : `.${String(s)}`))
      .join("")
      .replace(/^\./, "");
    if (issue.code === "unrecognized_keys") return issue.keys.map((k) => `${path === "" ? k : `${path}.${k}`}: unknown key`);
    return [`${path === "" ? "(root)" : path}: ${issue.message}`];
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
