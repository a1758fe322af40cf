import type { TraceSpan } from "../trace.js";
import { VerificationError } from "../types.js";
import type { Verification } from "./result.js";

const CODE_NAMES = ["UNSPECIFIED", "INVALID_FORMAT", "EXPIRED", "REVOKED", "NOT_FOUND", "SIGNATURE_INVALID", "INTERNAL", "IP_NOT_ALLOWED", "RATE_LIMITED"];

/** The verify span's result attributes: never the credential, only what the answer itself shows. */
export function annotate(span: TraceSpan, v: Verification): void {
  span.set("talos.verification.valid", v.isValid);
  span.set("talos.verification.error", CODE_NAMES[v.errorCode] ?? "INTERNAL");
  span.set("talos.credential.type", v.credentialType ?? "unknown");
  span.set("talos.cache.outcome", v.cache);
  if (v.keyId) span.set("talos.key.id", v.keyId);
  if (v.errorCode === VerificationError.INTERNAL) span.fail("verification failed internally");
}
