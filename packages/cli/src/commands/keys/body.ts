import { UsageError, type KeyFlags } from "./parse.js";

/** Window used when `--rate-limit-quota` is given without `--rate-limit-window`. */
export const DEFAULT_WINDOW_SECONDS = 60;

/** Request body fields of issue and import (docs/keys.md#issue, docs/keys.md#import) from the flags that were given. */
export function keyBody(flags: KeyFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.actor !== undefined) body.actor_id = flags.actor;
  if (flags.scopes !== undefined) body.scopes = flags.scopes;
  if (flags.ttl !== undefined) body.ttl = flags.ttl;
  if (flags.metadata) body.metadata = flags.metadata;
  if (flags.allowedCidrs?.length) body.ip_restriction = { allowed_cidrs: flags.allowedCidrs };
  if (flags.rateLimitQuota !== undefined || flags.rateLimitWindow !== undefined) {
    if (flags.rateLimitQuota === undefined) throw new UsageError("--rate-limit-window needs --rate-limit-quota");
    if (flags.rateLimitQuota < 1) throw new UsageError("--rate-limit-quota must be at least 1");
    body.rate_limit_policy = { quota: String(flags.rateLimitQuota), window: `${flags.rateLimitWindow ?? DEFAULT_WINDOW_SECONDS}s` };
  }
  if (flags.visibility !== undefined) body.visibility = flags.visibility;
  if (flags.requestId !== undefined) body.request_id = flags.requestId;
  return body;
}
