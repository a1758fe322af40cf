import { INTERNAL_MESSAGE, type ErrorId } from "@talos/core";

/** The one exhaustive map from error id to HTTP status and canonical status name (docs/wire.md#error-ids). */
export const ERROR_STATUS: Record<ErrorId, readonly [number, string]> = {
  bad_request: [400, "INVALID_ARGUMENT"],
  credential_required: [400, "INVALID_ARGUMENT"],
  invalid_api_key_format: [400, "INVALID_ARGUMENT"],
  invalid_token_type: [400, "INVALID_ARGUMENT"],
  unknown_credential: [400, "INVALID_ARGUMENT"],
  derived_token_not_revocable: [400, "INVALID_ARGUMENT"],
  unauthorized: [401, "UNAUTHENTICATED"],
  api_key_expired: [401, "UNAUTHENTICATED"],
  api_key_revoked: [401, "UNAUTHENTICATED"],
  signature_invalid: [401, "UNAUTHENTICATED"],
  parent_key_invalid: [401, "UNAUTHENTICATED"],
  forbidden: [403, "PERMISSION_DENIED"],
  ip_not_allowed: [403, "PERMISSION_DENIED"],
  api_key_not_found: [404, "NOT_FOUND"],
  not_found: [404, "NOT_FOUND"],
  method_not_allowed: [405, "UNIMPLEMENTED"],
  api_key_exists: [409, "ALREADY_EXISTS"],
  conflict: [409, "ALREADY_EXISTS"],
  failed_precondition: [409, "FAILED_PRECONDITION"],
  request_too_large: [413, "RESOURCE_EXHAUSTED"],
  request_timeout: [408, "DEADLINE_EXCEEDED"],
  expectation_failed: [417, "FAILED_PRECONDITION"],
  request_header_fields_too_large: [431, "RESOURCE_EXHAUSTED"],
  api_key_quota_exceeded: [429, "RESOURCE_EXHAUSTED"],
  too_many_requests: [429, "RESOURCE_EXHAUSTED"],
  internal_server_error: [500, "INTERNAL"],
  service_unavailable: [503, "UNAVAILABLE"],
  gateway_timeout: [504, "DEADLINE_EXCEEDED"],
};

export interface ErrorEnvelopeBody {
  error: {
    code: number;
    message: string;
    status: string;
    details: { "@type": string; reason: string; domain: string; metadata: Record<string, string> }[];
  };
}

/** `exposeMessage`: a 500's message is replaced by INTERNAL_MESSAGE unless it names a setting to fix. */
export function envelope(id: ErrorId, message: string, metadata: Record<string, string> = {}, exposeMessage = false): ErrorEnvelopeBody {
  const [code, status] = ERROR_STATUS[id];
  return {
    error: {
      code,
      message: code === 500 && !exposeMessage ? INTERNAL_MESSAGE : message,
      status,
      details: [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: id.toUpperCase(),
          domain: "www.ory.com/talos",
          metadata,
        },
      ],
    },
  };
}
