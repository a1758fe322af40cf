/**
 * Store failures. Driver and drizzle messages can carry bound parameters and values, so no message
 * here ever contains driver text. `cause` is a redacted summary (code, constraint); the untouched
 * driver error stays reachable through `rawDriverError(err)` for a debugger, never for a log line.
 */

const RAW = Symbol("talos.rawDriverError");

/** The database cannot be reached (connection refused, lost, shut down, pool closed). */
export class StoreUnavailableError extends Error {
  readonly code: string | undefined;
  constructor(cause?: unknown) {
    const summary = cause === undefined ? undefined : summarize(cause);
    super("database unavailable", summary ? { cause: summary } : undefined);
    this.name = "StoreUnavailableError";
    this.code = summary?.code;
  }
}

/** SQLSTATE 57014: the statement ran past statement_timeout (or was cancelled). */
export class StatementTimeoutError extends Error {
  readonly code = "57014";
  constructor(cause?: unknown) {
    super("database statement timeout", cause === undefined ? undefined : { cause: summarize(cause) });
    this.name = "StatementTimeoutError";
  }
}

/** Any other database failure. */
export class StoreError extends Error {
  readonly code: string | undefined;
  constructor(cause?: unknown) {
    const summary = cause === undefined ? undefined : summarize(cause);
    super("database error", summary ? { cause: summary } : undefined);
    this.name = "StoreError";
    this.code = summary?.code;
  }
}

/** Redacted stand-in for a driver error: only identifiers that never hold user data. */
export class DriverErrorSummary extends Error {
  readonly code: string | undefined;
  readonly constraint: string | undefined;
  constructor(code: string | undefined, constraint: string | undefined, raw: unknown) {
    super(`driver error${code ? ` ${code}` : ""}${constraint ? ` (constraint ${constraint})` : ""}`);
    this.name = "DriverErrorSummary";
    this.code = code;
    this.constraint = constraint;
    Object.defineProperty(this, RAW, { value: raw, enumerable: false });
  }
}

/** The original driver error behind a wrapped store error, for debugging only. Never log it. */
export function rawDriverError(e: unknown): unknown {
  let cur: unknown = e;
  for (let i = 0; i < 8 && cur instanceof Error; i++) {
    const raw = (cur as unknown as Record<symbol, unknown>)[RAW];
    if (raw !== undefined) return raw;
    cur = cur.cause;
  }
  return undefined;
}

export function isStoreError(e: unknown): e is StoreUnavailableError | StatementTimeoutError | StoreError {
  return e instanceof StoreUnavailableError || e instanceof StatementTimeoutError || e instanceof StoreError;
}

const NET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENOTCONN",
  "ERR_SOCKET_CLOSED",
  "ERR_STREAM_DESTROYED",
  // postgres.js
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/** SQLSTATEs meaning "the server is not serving us": 08xxx, shutdown, cannot connect now, too many connections. */
function isUnavailableSqlState(code: string): boolean {
  return (
    /^08[0-9A-Z]{3}$/.test(code) ||
    code === "57P01" || // admin_shutdown
    code === "57P02" || // crash_shutdown
    code === "57P03" || // cannot_connect_now
    code === "53300" || // too_many_connections
    code === "3D000" // invalid_catalog_name: the database does not exist (yet)
  );
}

/** True when e (or anything in its cause chain) is a connection-level failure of postgres.js or PGlite. */
export function isConnectionError(e: unknown): boolean {
  for (const err of chain(e)) {
    const code = codeOf(err);
    if (code !== undefined && (NET_CODES.has(code) || isUnavailableSqlState(code))) return true;
    if (err instanceof AggregateError && err.errors.some((x) => isConnectionError(x))) return true;
    // PGlite after close() (or a failed start) throws plain Errors without a code
    if (err instanceof Error && /^PGlite is (closed|closing)/.test(err.message)) return true;
  }
  return false;
}

export function isStatementTimeout(e: unknown): boolean {
  for (const err of chain(e)) if (codeOf(err) === "57014") return true;
  return false;
}

/** Maps any error from a driver call to one of the store errors; store errors pass through. */
export function wrapDbError(e: unknown): Error {
  if (isStoreError(e)) return e;
  if (isConnectionError(e)) return new StoreUnavailableError(e);
  if (isStatementTimeout(e)) return new StatementTimeoutError(e);
  return new StoreError(e);
}

function* chain(e: unknown): Generator<unknown> {
  let cur = e;
  for (let i = 0; i < 8 && cur !== undefined && cur !== null; i++) {
    yield cur;
    cur = typeof cur === "object" ? (cur as { cause?: unknown }).cause : undefined;
  }
}

function codeOf(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function summarize(e: unknown): DriverErrorSummary {
  // the innermost error with a code is the driver's (drizzle wraps it in DrizzleQueryError)
  let code: string | undefined;
  let constraint: string | undefined;
  for (const err of chain(e)) {
    code = codeOf(err) ?? code;
    const c = (err as { constraint?: unknown; constraint_name?: unknown } | null)?.constraint ??
      (err as { constraint_name?: unknown } | null)?.constraint_name;
    if (typeof c === "string") constraint = c;
  }
  if (code !== undefined && !/^[A-Z0-9_]{1,40}$/.test(code)) code = undefined;
  if (constraint !== undefined && !/^[a-z0-9_]{1,63}$/.test(constraint)) constraint = undefined;
  return new DriverErrorSummary(code, constraint, e);
}
