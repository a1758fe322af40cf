import type { RateLimiter } from "@talos/core";
import { cacheKey, type CachedVerify, type VerifyCache } from "./cache.js";
import { hitAnswer } from "./hit.js";
import type { ProxyMetrics } from "./metrics.js";
import { endToEnd, type HeaderMap, type Upstream } from "./upstream.js";

export const VERIFY_PATH = "/v2alpha1/admin/apiKeys:verify";
const MIN_TTL_MS = 1_000;
// headers that describe one response, not the cached answer: never replayed on a hit
const PER_RESPONSE = new Set(["content-length", "date", "ory-talos-cache", "ratelimit", "retry-after", "x-request-id", "set-cookie"]);
// Headers any IP allowlist on the server may read (serve.http.client_ip_source): an answer the
// server marked no-store is cached per value of all of them, so it is never replayed to another IP.
const IP_HEADERS = ["x-forwarded-for", "x-real-ip", "cf-connecting-ip", "true-client-ip"];

export interface VerifyDeps {
  cache: VerifyCache | null;
  ttlMs: number;
  talos: Upstream;
  limiter: RateLimiter | null;
  metrics: ProxyMetrics;
  now: () => number;
}

export interface VerifyRequest {
  host: string;
  credential: string;
  /** the request body sent upstream on a miss */
  body: Buffer;
  /** headers sent upstream on a miss */
  headers: HeaderMap;
  remoteAddress: string;
  /** Cache-Control no-cache/no-store or Pragma no-cache: skip the cache both ways */
  bypass: boolean;
}

export interface VerifyAnswer {
  status: number;
  headers: HeaderMap;
  /** the parsed JSON answer (null when upstream's body was not a JSON object) */
  json: Record<string, unknown> | null;
  raw: Buffer;
  cached: boolean;
}

function adminCredentials(headers: HeaderMap): string {
  return `${String(headers["authorization"] ?? "")}\n${String(headers["talos-admin-authorization"] ?? "")}`;
}

export function ipContext(headers: HeaderMap, remoteAddress: string): string {
  return [remoteAddress, ...IP_HEADERS.map((h) => String(headers[h] ?? ""))].join("\n");
}

/** Cache-Control no-cache / no-store, or Pragma: no-cache (docs/verification.md#cache). */
export function bypassesCache(headers: HeaderMap): boolean {
  const tokens = (v: string | string[] | undefined) => String(v ?? "").toLowerCase().split(",").map((t) => t.trim());
  const cc = tokens(headers["cache-control"]);
  return cc.includes("no-cache") || cc.includes("no-store") || tokens(headers["pragma"]).includes("no-cache");
}

/** apiKeys:verify through the cache: a hit is answered locally, a miss goes to the central Talos. */
export async function cachedVerify(d: VerifyDeps, r: VerifyRequest): Promise<VerifyAnswer> {
  const { cache } = d;
  // the caller's admin credential is part of the key: with admin auth on upstream, an answer cached for
  // one caller is never a hit for a caller without (or with another) credential, who goes upstream instead
  const admin = adminCredentials(r.headers);
  const plain = cacheKey(r.host, r.credential, admin);
  let scopedKey: string | undefined;
  const scoped = () => (scopedKey ??= cacheKey(r.host, r.credential, admin, ipContext(r.headers, r.remoteAddress)));
  if (cache && !r.bypass) {
    const e = cache.get(plain) ?? cache.get(scoped());
    if (e) {
      d.metrics.hits.inc();
      const a = await hitAnswer(e, d.limiter, d.now(), () => {});
      if (a.body["error_code"] === "VERIFICATION_ERROR_RATE_LIMITED") d.metrics.rateLimited.inc();
      const raw = a.changed ? Buffer.from(JSON.stringify(a.body)) : e.raw;
      return { status: 200, headers: a.headers, json: a.body, raw, cached: true };
    }
  }
  d.metrics.misses.inc();
  const up = await d.talos.send("POST", VERIFY_PATH, r.headers, r.body);
  let json: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(up.body.toString("utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
  } catch {
    json = null;
  }
  const headers = endToEnd(up.headers, new Set(["content-length", "ory-talos-cache"]));
  headers["ory-talos-cache"] = "MISS";
  if (cache && !r.bypass && up.status === 200 && json?.["is_valid"] === true && typeof json["key_id"] === "string") {
    const ttl = ttlFor(json, d.ttlMs, d.now());
    if (ttl >= MIN_TTL_MS) {
      const noStore = String(up.headers["cache-control"] ?? "").toLowerCase().includes("no-store");
      const replay = endToEnd(up.headers, PER_RESPONSE);
      const entry: CachedVerify = { body: json, raw: up.body, keyId: json["key_id"] as string, noStore, headers: replay };
      cache.set(noStore ? scoped() : plain, entry, ttl);
    }
  }
  return { status: up.status, headers, json, raw: up.body, cached: false };
}

/** min(cache TTL, expire_time − now) */
function ttlFor(json: Record<string, unknown>, ttlMs: number, now: number): number {
  const exp = json["expire_time"];
  if (typeof exp !== "string") return ttlMs;
  const at = Date.parse(exp);
  return Number.isNaN(at) ? 0 : Math.min(ttlMs, at - now);
}
