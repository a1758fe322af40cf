/**
 * Delay before attempt `failures + 1`: base doubling per failure, capped, with ±25 % jitter so
 * endpoints that failed together are not retried in lockstep.
 */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.max(1, Math.round(exp * (0.75 + random() * 0.5)));
}
