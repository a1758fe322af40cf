/**
 * `talos proxy` configuration (docs/proxy.md): flags → TALOS_PROXY_* environment → the file's `proxy`
 * section → defaults. Only that section is read, so a proxy needs no database, secrets or issuer.
 */
import { z } from "zod";
import { ConfigError, applyEnv, formatIssues, fromText, readConfigFile, setPath } from "./load.js";
import { proxySchema } from "./proxy-schema.js";
import { CONFIG_KEYS } from "./schema.js";
import type { ProxyConfig } from "./types.js";

const PROXY_KEYS = CONFIG_KEYS.filter((k) => k.path.startsWith("proxy."));
const fileSchema = z.object({ proxy: proxySchema });

export interface LoadProxyConfigOptions {
  file?: string;
  env: Record<string, string | undefined>;
  /** dotted key paths (`proxy.upstream`) set by flags; `undefined` values are ignored */
  overrides?: Record<string, unknown>;
}

export function loadProxyConfig(opts: LoadProxyConfigOptions): ProxyConfig {
  const issues: string[] = [];
  const envSources = new Map<string, string>();
  const file = opts.file === undefined ? {} : readConfigFile(opts.file);
  const raw: Record<string, unknown> = { proxy: file["proxy"] };
  applyEnv(PROXY_KEYS, opts.env, raw, envSources, issues);
  for (const [path, value] of Object.entries(opts.overrides ?? {})) {
    if (value === undefined) continue;
    const key = PROXY_KEYS.find((k) => k.path === path);
    if (!key) throw new Error(`unknown proxy key ${path}`);
    const resolved = typeof value === "string" ? fromText(key, value, "", issues) : value;
    if (resolved === undefined) continue;
    setPath(raw, path, resolved);
    envSources.delete(path);
  }
  const result = fileSchema.safeParse(raw);
  if (result.success) {
    const c = result.data.proxy as ProxyConfig;
    if (!c.upstream) issues.push("proxy.upstream: required (--upstream or TALOS_PROXY_UPSTREAM)");
    if (c.mode === "gateway" && !c.talos) issues.push("proxy.talos: required in gateway mode (--talos or TALOS_PROXY_TALOS)");
    if (c.invalidation === "redis" && c.redis.addrs.length === 0) issues.push("proxy.invalidation: redis needs proxy.redis.addrs");
    if (issues.length === 0) return c;
  } else {
    issues.push(...formatIssues(result.error.issues, envSources));
  }
  throw new ConfigError([...new Set(issues)]);
}
