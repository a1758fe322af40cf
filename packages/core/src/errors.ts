/** Error ids of docs/wire.md#error-ids. The HTTP layer owns the id -> status map. */
export type ErrorId =
  | "bad_request"
  | "credential_required"
  | "invalid_api_key_format"
  | "invalid_token_type"
  | "unknown_credential"
  | "derived_token_not_revocable"
  | "unauthorized"
  | "api_key_expired"
  | "api_key_revoked"
  | "signature_invalid"
  | "parent_key_invalid"
  | "forbidden"
  | "ip_not_allowed"
  | "api_key_not_found"
  | "not_found"
  | "method_not_allowed"
  | "api_key_exists"
  | "conflict"
  | "failed_precondition"
  | "request_too_large"
  | "request_timeout"
  | "expectation_failed"
  | "request_header_fields_too_large"
  | "api_key_quota_exceeded"
  | "too_many_requests"
  | "internal_server_error"
  | "service_unavailable"
  | "gateway_timeout";

export const INTERNAL_MESSAGE = "An internal server error occurred.";

/** A failure the caller can act on. `metadata` becomes details[0].metadata (strings only). */
export class TalosError extends Error {
  readonly id: ErrorId;
  readonly metadata: Record<string, string>;
  constructor(id: ErrorId, message: string, metadata: Record<string, string> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TalosError";
    this.id = id;
    this.metadata = metadata;
  }
}

/**
 * A 500 caused by the server's own configuration (a missing signing key): unlike other internal
 * errors its message is shown, because it names the setting to fix and holds no secret.
 */
export class ConfigurationError extends TalosError {
  constructor(message: string, metadata: Record<string, string> = {}) {
    super("internal_server_error", message, metadata);
    this.name = "ConfigurationError";
  }
}

/** Validation failure naming the offending field (docs/keys.md#common-rules: message names it, metadata.field holds it). */
export function badRequest(field: string, problem: string): TalosError {
  const message = field ? `${field}: ${problem}` : problem;
  return new TalosError("bad_request", message, field ? { field } : {});
}

export const notFound = (): TalosError => new TalosError("api_key_not_found", "API key not found");

export function isTalosError(e: unknown): e is TalosError {
  return e instanceof TalosError;
}
