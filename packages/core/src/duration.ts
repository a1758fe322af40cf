/**
 * Durations (docs/wire.md#durations): Go syntax (ns us µs ms s m h, decimals, compounds) plus the
 * extended units d, w, mo, y. Protobuf Duration strings ("3600s", "1.5s") are valid Go syntax.
 * Results are milliseconds; sub-millisecond parts are truncated.
 */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  mo: 2_592_000_000,
  y: 31_536_000_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|mo|s|m|h|d|w|y)/y;

/** Parses a Go/extended duration; returns null when malformed. A leading "-" yields a negative value. */
export function parseDuration(text: string): number | null {
  const ms = parseDurationExact(text);
  return ms === null ? null : Math.trunc(ms);
}

/** parseDuration without the truncation: fractional ms, so "1ns" is not mistaken for zero. */
export function parseDurationExact(text: string): number | null {
  let s = text.trim();
  if (s === "") return null;
  let sign = 1;
  if (s[0] === "-" || s[0] === "+") {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (!m) return null;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = PART.lastIndex;
  }
  if (pos === 0 || !Number.isFinite(total)) return null;
  return total === 0 ? 0 : sign * total;
}

/** Bounds of a request's `ttl` (docs/wire.md#durations): 1 s to 315360000 s (10 × 365 days). */
const TTL_MIN_MS = 1000;
const TTL_MAX_MS = 315_360_000_000;

/**
 * A request's `ttl` (issue, import, derive; docs/wire.md#durations): `ms` is undefined for "" or an exact zero
 * ("use the default"). Anything else outside the bounds, however small ("1ns"), is an `error`.
 */
export function parseTtl(text: string): { ms: number | undefined } | { error: string } {
  if (text === "") return { ms: undefined };
  const exact = parseDurationExact(text);
  if (exact === null) return { error: `invalid duration ${JSON.stringify(text)}` };
  if (exact === 0) return { ms: undefined };
  if (exact < TTL_MIN_MS || exact > TTL_MAX_MS) return { error: `must be between ${TTL_MIN_MS / 1000}s and ${TTL_MAX_MS / 1000}s` };
  return { ms: Math.trunc(exact) };
}

const PROTO = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/;

/** Protobuf Duration JSON ("60s", "1.5s"); returns whole seconds (fraction truncated) or null. */
export function parseProtoDurationSeconds(text: string): number | null {
  const m = PROTO.exec(text);
  if (!m) return null;
  const secs = Number(m[2]);
  if (!Number.isSafeInteger(secs)) return null;
  return m[1] === "-" ? -secs : secs;
}

/** Human form for messages: "720h", "90s". */
export function formatDurationMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * Go's time.Duration.String() for millisecond values ("8760h0m0s", "1m30s", "1.5s", "500ms"),
 * so messages that quote durations read as the reference's do.
 */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(Math.trunc(ms));
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const frac = rest % 1000;
  const secs = `${Math.floor(rest / 1000)}${frac ? `.${String(frac).padStart(3, "0").replace(/0+$/, "")}` : ""}s`;
  if (h > 0) return `${sign}${h}h${m}m${secs}`;
  if (m > 0) return `${sign}${m}m${secs}`;
  return `${sign}${secs}`;
}
