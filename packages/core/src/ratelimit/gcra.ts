// GCRA of docs/verification.md#gcra in exact integers: a float TAT (~1.7e12 ms) rounds T to a 2^-12 ms grid on
// every add, and a same-instant burst then admits quota-1 for about half of all (quota, window) pairs.
// All values stay integers < 2^53, so the Lua port (doubles) in redis.ts computes the same bits.

/** TAT = `ms + frac / quota` ms; `frac` is in [0, quota). `quota` is the one `frac` was counted in. */
export interface Tat {
  ms: number;
  frac: number;
  quota: number;
}

export interface GcraResult {
  allowed: boolean;
  /** the state to store after an accept; null = unchanged (rejected) */
  newTat: Tat | null;
  remaining: number;
  retryAfterS: number;
  /** ceil of the TAT the decision leaves (whole ms): when the full quota is available again */
  resetTimeMs: number;
}

const SAFE = Number.MAX_SAFE_INTEGER;

/**
 * One request at `nowMs` against the stored `tat` (null when absent or expired).
 * `nowMs` is floored to a whole millisecond; `quota` and `windowMs` must be integers in [1, 2^53).
 */
export function gcra(tat: Tat | null, nowMs: number, quota: number, windowMs: number): GcraResult {
  if (!Number.isSafeInteger(quota) || quota < 1) throw new RangeError("gcra: quota must be a positive safe integer");
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError("gcra: window must be a positive safe integer");
  const now = Math.floor(nowMs);

  // T = window / quota as whole ms `ti` plus `tr / quota`; the fix-ups absorb float rounding of the quotient.
  let ti = Math.floor(windowMs / quota);
  let tr = windowMs - ti * quota;
  if (tr < 0) { ti -= 1; tr += quota; } else if (tr >= quota) { ti += 1; tr -= quota; }

  const [ta, tb] = currentTat(tat, now, quota);

  // new_tat = tat + T, carrying the fraction without ever forming tb + tr (may exceed 2^53).
  let na = ta + ti;
  let nb: number;
  if (tb >= quota - tr) { nb = tb - (quota - tr); na += 1; } else { nb = tb + tr; }

  // now < allow_at = new_tat - window, with allow_at - now = d + nb/quota.
  const d = na - windowMs - now;
  if (d > 0 || (d === 0 && nb > 0)) {
    return {
      allowed: false,
      newTat: null,
      remaining: 0,
      retryAfterS: nb > 0 ? Math.floor(d / 1000) + 1 : Math.ceil(d / 1000),
      resetTimeMs: ta + (tb > 0 ? 1 : 0),
    };
  }

  // remaining = floor((window - (new_tat - now)) / T) = floor((m*quota - nb) / window).
  const m = windowMs - (na - now);
  let remaining: number;
  if (m * quota <= SAFE) {
    const n = m * quota - nb;
    remaining = Math.floor(n / windowMs);
    if (remaining * windowMs > n) remaining -= 1;
    else if ((remaining + 1) * windowMs <= n) remaining += 1;
  } else {
    remaining = Math.floor(m * (quota / windowMs) - nb / windowMs); // > 2^53/window: off-by-one is moot
  }
  remaining = Math.min(Math.max(remaining, 0), quota - 1);

  return {
    allowed: true,
    newTat: { ms: na, frac: nb, quota },
    remaining,
    retryAfterS: 0,
    resetTimeMs: na + (nb > 0 ? 1 : 0),
  };
}

/**
 * tat = max(TAT or now, now) as `[ms, frac]` in `quota`'s fractions. A TAT counted under another quota
 * (policy PATCHed) is re-expressed, rounding up so the conversion never grants extra capacity.
 */
function currentTat(tat: Tat | null, now: number, quota: number): [number, number] {
  if (tat === null) return [now, 0];
  let a = tat.ms;
  let b = tat.frac;
  if (tat.quota !== quota && b > 0) {
    b = Math.ceil((b / tat.quota) * quota);
    if (b >= quota) { a += 1; b = 0; }
  }
  return a >= now ? [a, b] : [now, 0]; // a >= now <=> a + b/quota >= now, because now is whole
}

/** What the bucket holds at `nowMs`, without taking from it. */
export interface GcraPeek {
  /** requests admitted if they arrived now, 0..quota (one more than an accepted take would report) */
  remaining: number;
  /** ceil of the current TAT (whole ms): when the full quota is available again; `nowMs` when it already is */
  resetTimeMs: number;
}

/**
 * The read-only twin of gcra(): the same state, the same arithmetic, nothing to store. An accepted
 * take reports the capacity left after itself, so the capacity now is that plus one.
 */
export function gcraPeek(tat: Tat | null, nowMs: number, quota: number, windowMs: number): GcraPeek {
  const r = gcra(tat, nowMs, quota, windowMs);
  const [ta, tb] = currentTat(tat, Math.floor(nowMs), quota);
  return { remaining: r.allowed ? r.remaining + 1 : 0, resetTimeMs: ta + (tb > 0 ? 1 : 0) };
}

/** Whole ms after which a stored TAT no longer matters (max(TAT, now) = now): drop it from then on. */
export function tatExpiryMs(tat: Tat): number {
  return tat.ms + (tat.frac > 0 ? 1 : 0);
}
