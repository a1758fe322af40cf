/**
 * Configuration loader (docs/configuration.md): overrides → TALOS_* environment → file → defaults.
 * Pure apart from reading the file and, in dev mode, the persisted development secret: the caller
 * passes the environment in, so `process.env` is read by the CLI only.
 */
import { readFileSync } from "node:fs";
import { parse, YAMLError } from "yaml";
import type { z } from "zod";
import { devHmacSecret, errorCode } from "./dev-secret.js";
import { resolveNetworks, type Network } from "./networks.js";
import { CONFIG_KEYS, configSchema } from "./schema.js";
import type { ConfigKey } from "./schema.js";
import type { Config } from "./types.js";

export { CONFIG_KEYS };
export type { ConfigKey };

/** Start-up configuration failure; `issues` holds one `"<dotted.path>: <problem>"` line per bad field. */
export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid configuration:\n${issues.map((i) => `  - ${i}`).join("\n")}`);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

export interface LoadConfigOptions {
  /** path of a YAML or JSON config file */
  file?: string;
  /** the process environment (or a test double); only TALOS_* keys and DSN are read */
  env: Record<string, string | undefined>;
  /** dotted key paths set by command-line flags; highest precedence. `undefined` values are ignored. */
  overrides?: Record<string, unknown>;
  /** development mode (`serve --dev`): dev defaults and a persisted HMAC secret under `dir` */
  dev?: { dir: string };
}

export interface LoadedConfig {
  config: Config;
  /** things the operator should see at start-up (dev secrets, ignored settings); never contain secrets */
  warnings: string[];
  /** multitenancy.enabled: every network with its merged configuration; otherwise empty */
  networks: Network[];
}

/** `credentials.api_keys.max_ttl` → `TALOS_CREDENTIALS_API_KEYS_MAX_TTL` */
export function envKeyFor(path: string): string {
  return `TALOS_${path.toUpperCase().replaceAll(".", "_")}`;
}

const KEY_BY_PATH: ReadonlyMap<string, ConfigKey> = new Map(CONFIG_KEYS.map((k) => [k.path, k]));

// Resolving names against the known key list is only unambiguous if no two paths map to one name.
{
  const seen = new Map<string, string>();
  for (const { path } of CONFIG_KEYS) {
    const name = envKeyFor(path);
    const other = seen.get(name);
    if (other !== undefined) throw new Error(`config keys "${other}" and "${path}" share the environment name ${name}`);
    seen.set(name, path);
  }
}

export const DEV_ISSUER = "http://localhost:4420";

export function loadConfig(opts: LoadConfigOptions): LoadedConfig {
  const warnings: string[] = [];
  const issues: string[] = [];
  /** leaf paths whose value came from an environment variable → that variable's name */
  const envSources = new Map<string, string>();

  const raw: Record<string, unknown> = opts.file === undefined ? {} : readConfigFile(opts.file);

  applyEnv(CONFIG_KEYS, opts.env, raw, envSources, issues);
  const talosDsn = opts.env[envKeyFor("db.dsn")];
  const plainDsn = opts.env["DSN"];
  if ((talosDsn === undefined || talosDsn === "") && plainDsn !== undefined && plainDsn !== "") {
    setPath(raw, "db.dsn", plainDsn);
    envSources.set("db.dsn", "DSN");
  }

  // Command-line overrides.
  for (const [path, value] of Object.entries(opts.overrides ?? {})) {
    if (value === undefined) continue;
    const key = KEY_BY_PATH.get(path);
    if (key === undefined) {
      issues.push(`${path}: unknown configuration key`);
      continue;
    }
    const resolved = typeof value === "string" ? fromText(key, value, "", issues) : value;
    if (resolved === undefined) continue;
    setPath(raw, path, resolved);
    envSources.delete(path);
  }

  // Development defaults fill only what no source provided.
  if (opts.dev !== undefined) {
    const dir = opts.dev.dir.replace(/[/\\]+$/, "") || ".";
    if (isMissing(getPath(raw, "db.dsn"))) setPath(raw, "db.dsn", `pglite://${dir}/db`);
    if (isMissing(getPath(raw, "credentials.issuer"))) setPath(raw, "credentials.issuer", DEV_ISSUER);
    if (isMissing(getPath(raw, "secrets.hmac.current"))) {
      const secret = devHmacSecret(dir, warnings, issues);
      if (secret !== undefined) setPath(raw, "secrets.hmac.current", secret);
    }
  }

  const cacheType = getPath(raw, "cache.type");
  const cacheEnabled = getPath(raw, "cache.enabled");
  if (typeof cacheType === "string" && typeof cacheEnabled === "boolean" && (cacheType !== "noop") !== cacheEnabled) {
    warnings.push(`cache.type "${cacheType}" is ignored because cache.enabled is ${String(cacheEnabled)}`);
  }

  const result = configSchema.safeParse(raw);
  if (result.success && issues.length === 0) {
    if (!result.data.multitenancy.enabled) return { config: result.data, warnings, networks: [] };
    const resolved = resolveNetworks(result.data.multitenancy.networks, raw, opts.file);
    if (resolved.issues.length === 0) return { config: result.data, warnings, networks: resolved.networks };
    throw new ConfigError(resolved.issues);
  }

  const reported = new Set(issues.map((i) => i.slice(0, i.indexOf(":"))));
  if (!result.success) {
    for (const line of formatIssues(result.error.issues, envSources)) {
      if (!reported.has(line.slice(0, line.indexOf(":")))) issues.push(line);
    }
  }
  // the networks' own problems are listed with the main file's, when the network list itself is readable
  const mt = configSchema.shape.multitenancy.safeParse(raw.multitenancy);
  if (mt.success && mt.data.enabled) {
    const mainPaths = new Set(issues.map((i) => i.slice(0, i.indexOf(":"))));
    issues.push(...resolveNetworks(mt.data.networks, raw, opts.file, mainPaths).issues);
  }
  throw new ConfigError([...new Set(issues)]);
}

// ---------------------------------------------------------------------------------------------

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([`${file}: cannot read config file (${errorCode(err)})`]);
  }
  let doc: unknown;
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    doc = parse(text);
  } catch (err) {
    // The parser's own message quotes the offending line, which may hold a secret: report position only.
    if (err instanceof YAMLError) {
      const pos = err.linePos?.[0];
      const where = pos ? ` at line ${pos.line}, column ${pos.col}` : "";
      throw new ConfigError([`${file}: invalid YAML or JSON${where} (${err.code})`]);
    }
    throw new ConfigError([`${file}: invalid YAML or JSON`]);
  }
  if (doc === null || doc === undefined) return {};
  if (!isRecord(doc)) throw new ConfigError([`${file}: the top level must be a mapping of configuration keys`]);
  return doc;
}

/** Overlays the `TALOS_*` variable of each key onto `raw`, noting which variable set which path. */
export function applyEnv(
  keys: readonly ConfigKey[],
  env: Readonly<Record<string, string | undefined>>,
  raw: Record<string, unknown>,
  envSources: Map<string, string>,
  issues: string[],
): void {
  for (const key of keys) {
    const name = envKeyFor(key.path);
    const text = env[name];
    if (text === undefined || text === "") continue;
    const value = fromText(key, text, `(from ${name})`, issues);
    if (value === undefined) continue;
    setPath(raw, key.path, value);
    envSources.set(key.path, name);
  }
}

/**
 * Converts an environment/flag text into the value the schema expects. Scalars that the schema
 * reads as strings (strings, durations, enums) pass through; the schema validates them.
 */
export function fromText(key: ConfigKey, text: string, source: string, issues: string[]): unknown {
  const suffix = source === "" ? "" : ` ${source}`;
  switch (key.kind) {
    case "string":
    case "duration":
    case "enum":
      return text;
    case "int": {
      const t = text.trim();
      if (/^[+-]?\d+$/.test(t) && Number.isSafeInteger(Number(t))) return Number(t);
      issues.push(`${key.path}: must be an integer${suffix}`);
      return undefined;
    }
    case "number": {
      const t = text.trim();
      if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
      issues.push(`${key.path}: must be a number${suffix}`);
      return undefined;
    }
    case "object[]": {
      // A list of mappings has no comma form: only a JSON array is unambiguous.
      let parsed: unknown;
      try {
        parsed = JSON.parse(text.trim());
      } catch {
        parsed = undefined;
      }
      if (Array.isArray(parsed)) return parsed;
      issues.push(`${key.path}: is not a valid JSON array of mappings${suffix}`);
      return undefined;
    }
    case "bool": {
      const t = text.trim().toLowerCase();
      if (t === "true" || t === "1") return true;
      if (t === "false" || t === "0") return false;
      issues.push(`${key.path}: must be true, false, 1 or 0${suffix}`);
      return undefined;
    }
    case "string[]":
    case "retired[]": {
      const t = text.trim();
      if (t.startsWith("[")) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(t);
        } catch {
          issues.push(`${key.path}: is not a valid JSON array${suffix}`);
          return undefined;
        }
        if (!Array.isArray(parsed)) {
          issues.push(`${key.path}: is not a valid JSON array${suffix}`);
          return undefined;
        }
        return parsed;
      }
      return t
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
    }
  }
}

export function formatIssues(zodIssues: readonly z.core.$ZodIssue[], envSources: ReadonlyMap<string, string>): string[] {
  const lines: string[] = [];
  for (const issue of zodIssues) {
    const path = formatPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) lines.push(`${path === "" ? key : `${path}.${key}`}: unknown key`);
      continue;
    }
    const source = envSourceFor(path, envSources);
    lines.push(`${path === "" ? "(root)" : path}: ${issue.message}${source === undefined ? "" : ` (from ${source})`}`);
  }
  return lines;
}

function envSourceFor(path: string, envSources: ReadonlyMap<string, string>): string | undefined {
  for (const [leaf, name] of envSources) {
    if (path === leaf || path.startsWith(`${leaf}[`) || path.startsWith(`${leaf}.`)) return name;
  }
  return undefined;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isMissing = (value: unknown): boolean => value === undefined || value === null;

function getPath(root: Record<string, unknown>, path: string): unknown {
  let cur: unknown = root;
  for (const seg of path.split(".")) {
    if (!isRecord(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

/**
 * Sets a leaf, creating intermediate mappings. When the file holds a non-mapping where a mapping
 * belongs, the value is dropped: the schema then reports that file error instead of hiding it.
 */
export function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const segs = path.split(".");
  let cur = root;
  for (const seg of segs.slice(0, -1)) {
    const next = cur[seg];
    if (next === undefined || next === null) {
      const created: Record<string, unknown> = {};
      cur[seg] = created;
      cur = created;
    } else if (isRecord(next)) {
      cur = next;
    } else {
      return;
    }
  }
  cur[segs[segs.length - 1]!] = value;
}
