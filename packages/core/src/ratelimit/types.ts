/** What the verify pipeline needs from one limiter evaluation (docs/verification.md#gcra, docs/verification.md#rate-limit-headers). */
export interface RateDecision {
  allowed: boolean;
  remaining: number;
  /** whole seconds; 0 when allowed */
  retryAfterS: number;
  /** ms since epoch: when the full quota is available again */
  resetTimeMs: number;
  /** the clock the decision used (Redis: the server's); compute `RateLimit: t=` against this */
  nowMs: number;
}

export interface RateLimiter {
  readonly backend: "memory" | "redis";
  /** `key` is `<nid>:<kind>:<key_id>`. Rejects only on backend failure (see withFailMode). */
  take(key: string, quota: number, windowMs: number, nowMs: number): Promise<RateDecision>;
  close(): Promise<void>;
}
