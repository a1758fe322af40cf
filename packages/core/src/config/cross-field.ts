/** Cross-field rules of the configuration schema (schema.ts). */
import { formatDurationMs } from "../duration.js";
// ---------------------------------------------------------------------------------------------
// Cross-field rules. They run even when other fields failed (so every problem is reported at
// once), hence they read the partially parsed value defensively.
// ---------------------------------------------------------------------------------------------

export function at(value: unknown, ...path: string[]): unknown {
  let cur = value;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

export interface CrossFieldIssue {
  path: (string | number)[];
  message: string;
}

export function crossFieldIssues(value: unknown): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];

  const defaultTtl = at(value, "credentials", "api_keys", "default_ttl");
  const maxTtl = at(value, "credentials", "api_keys", "max_ttl");
  if (typeof defaultTtl === "number" && typeof maxTtl === "number" && maxTtl > 0 && defaultTtl > maxTtl) {
    issues.push({
      path: ["credentials", "api_keys", "default_ttl"],
      message: `must not exceed credentials.api_keys.max_ttl (${formatDurationMs(maxTtl)})`,
    });
  }

  // Several processes need one shared database and one shared rate limiter: the embedded database
  // lives inside one process, and memory quotas would be enforced once per worker.
  const workers = at(value, "serve", "workers");
  if (typeof workers === "number" && workers > 1) {
    const dsn = at(value, "db", "dsn");
    if (typeof dsn === "string" && !/^postgres(ql)?:\/\//.test(dsn)) {
      issues.push({
        path: ["serve", "workers"],
        message: "more than 1 needs a PostgreSQL database (db.dsn postgres://…): the embedded database lives in one process",
      });
    }
    if (at(value, "rate_limit", "backend") !== "redis") {
      issues.push({
        path: ["serve", "workers"],
        message: 'more than 1 needs rate_limit.backend "redis": each worker would enforce its own memory quota',
      });
    }
  }

  const addrs = at(value, "cache", "redis", "addrs");
  if (at(value, "rate_limit", "backend") === "redis" && Array.isArray(addrs) && addrs.length === 0) {
    issues.push({ path: ["rate_limit", "backend"], message: '"redis" requires cache.redis.addrs to be set' });
  }

  // docs/verification.md#credential-routing routes `<macaroon prefix>_v1_…` before issued keys, so an equal API key prefix would never verify.
  const apiPrefix = at(value, "credentials", "api_keys", "prefix");
  const apiPrefixes = new Set([
    ...strings([at(apiPrefix, "current"), at(apiPrefix, "public_current")]),
    ...strings(at(apiPrefix, "retired")),
    ...strings(at(apiPrefix, "public_retired")),
  ]);
  const macaroonPrefix = at(value, "credentials", "derived_tokens", "macaroon", "prefix");
  const base = ["credentials", "derived_tokens", "macaroon", "prefix"];
  const clash = "must differ from every credentials.api_keys.prefix value";
  const current = at(macaroonPrefix, "current");
  if (typeof current === "string" && apiPrefixes.has(current)) issues.push({ path: [...base, "current"], message: clash });
  const retired = at(macaroonPrefix, "retired");
  if (Array.isArray(retired)) {
    retired.forEach((p, i) => {
      if (typeof p === "string" && apiPrefixes.has(p)) issues.push({ path: [...base, "retired", i], message: clash });
    });
  }
  return issues;
}
