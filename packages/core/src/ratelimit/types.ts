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

/** A bucket as it stands, read without spending from it (the console's live quota). */
export interface RatePeek {
  /** requests admitted if they arrived now, 0..quota */
  remaining: number;
  /** ms since epoch: when the full quota is available again (`nowMs` when it already is) */
  resetTimeMs: number;
  /** the clock the reading used (Redis: the server's) */
  nowMs: number;
}

export interface RateLimiter {
  readonly backend: "memory" | "redis";
  /** `key` is `<nid>:<kind>:<key_id>`. Rejects only on backend failure (see withFailMode). */
  take(key: string, quota: number, windowMs: number, nowMs: number): Promise<RateDecision>;
  /** The bucket `take` would use, read only: never spends quota, never refreshes or extends the entry. */
  peek(key: string, quota: number, windowMs: number, nowMs: number): Promise<RatePeek>;
  close(): Promise<void>;
}
