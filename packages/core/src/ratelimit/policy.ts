/** Bounds of a key's `rate_limit_policy` (docs/wire.md#nested-messages), checked wherever a policy is written. */
export const RATE_LIMIT_QUOTA_MAX = Number.MAX_SAFE_INTEGER;
export const RATE_LIMIT_WINDOW_MAX_SECONDS = 315_360_000;
const RATE_LIMIT_UNIT_MAX_CHARS = 64;

// The unit is echoed as `qu="<unit>"` in RateLimit-Policy: visible ASCII without '"' or '\'
// can stand in a quoted string as it is, so it can neither break the header nor add parameters.
const UNIT = /^[\x21\x23-\x5b\x5d-\x7e]*$/;

/** What is wrong with a policy's `unit`, or null. */
export function rateLimitUnitProblem(unit: string): string | null {
  if (unit.length > RATE_LIMIT_UNIT_MAX_CHARS) return `must be at most ${RATE_LIMIT_UNIT_MAX_CHARS} characters`;
  if (!UNIT.test(unit)) return 'must be visible ASCII characters other than \'"\' and \'\\\'';
  return null;
}
