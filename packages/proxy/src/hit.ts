import { NIL_NID, type RateDecision, type RateLimiter } from "@talos/core";
import type { CachedVerify } from "./cache.js";
import type { HeaderMap } from "./upstream.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** RFC 3339 as the server writes it (docs/wire.md): no `.000` for whole seconds. */
function timestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

/** The policy a hit must spend quota on, or null: only where the server itself limited (no-store + requests unit). */
function enforcedPolicy(e: CachedVerify): { quota: number; windowMs: number } | null {
  if (!e.noStore) return null;
  const p = e.body["rate_limit_policy"] as { quota?: string; window?: string; unit?: string } | null | undefined;
  if (!p || (p.unit !== undefined && p.unit !== "" && p.unit !== "requests")) return null;
  const quota = Number(p.quota);
  const m = /^(\d+)s$/.exec(p.window ?? "");
  if (!Number.isSafeInteger(quota) || quota < 1 || !m) return null;
  return { quota, windowMs: Number(m[1]) * 1000 };
}

/**
 * A cache hit's answer. With the shared limiter, a key with a rate-limit policy spends quota from the
 * server's own GCRA bucket (same script, key `<nid>:<kind>:<key_id>`), and the answer carries the
 * fields and headers the server would have sent (docs/verification.md#rate-limit-headers).
 */
export async function hitAnswer(e: CachedVerify, limiter: RateLimiter | null, now: number, onLimiterError: () => void): Promise<{ body: Record<string, unknown>; headers: HeaderMap; changed: boolean }> {
  const headers: HeaderMap = { ...e.headers, "ory-talos-cache": "HIT" };
  const policy = limiter ? enforcedPolicy(e) : null;
  if (!policy || !limiter) return { body: e.body, headers, changed: false };
  const kind = UUID.test(e.keyId) ? "issued" : "imported";
  let d: RateDecision;
  try {
    d = await limiter.take(`${NIL_NID}:${kind}:${e.keyId}`, policy.quota, policy.windowMs, now);
  } catch {
    // fail open, as the server's default (rate_limit.fail_open): no RateLimit headers then
    onLimiterError();
    return { body: e.body, headers, changed: false };
  }
  const reset = now + (d.resetTimeMs - d.nowMs);
  headers["ratelimit"] = `"default";r=${d.allowed ? d.remaining : 0};t=${Math.max(0, Math.ceil((reset - now) / 1000))}`;
  const body: Record<string, unknown> = { ...e.body, rate_limit_remaining: String(d.allowed ? d.remaining : 0), rate_limit_reset_time: timestamp(reset) };
  if (!d.allowed) {
    headers["retry-after"] = String(Math.max(1, d.retryAfterS));
    Object.assign(body, {
      is_valid: false,
      status: "KEY_STATUS_UNSPECIFIED",
      visibility: "KEY_VISIBILITY_UNSPECIFIED",
      issuer: "",
      error_code: "VERIFICATION_ERROR_RATE_LIMITED",
      error_message: "rate limit exceeded",
    });
  }
  return { body, headers, changed: true };
}
