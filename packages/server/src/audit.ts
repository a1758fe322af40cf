import type { AuditEvent, RuntimeObservers, Verification } from "@talos/core";
import { currentAdminPrincipal, type Logger } from "@talos/http";

const REASONS = [
  "REVOCATION_REASON_UNSPECIFIED",
  "REVOCATION_REASON_KEY_COMPROMISE",
  "REVOCATION_REASON_AFFILIATION_CHANGED",
  "REVOCATION_REASON_SUPERSEDED",
  "REVOCATION_REASON_PRIVILEGE_WITHDRAWN",
];
const CODES = ["UNSPECIFIED", "INVALID_FORMAT", "EXPIRED", "REVOKED", "NOT_FOUND", "SIGNATURE_INVALID", "INTERNAL", "IP_NOT_ALLOWED", "RATE_LIMITED"];
const FAILURES_PER_MINUTE = 10;

/** One audit record (docs/server.md#health-version-metrics-and-logs): the event name plus key_id, kind, actor_id and reason as applicable. */
export function auditRecord(e: AuditEvent): Record<string, unknown> {
  const rec: Record<string, unknown> = { event: e.event, key_id: e.keyId, kind: e.kind, actor_id: e.actorId };
  if (e.event === "APIKeyRevoked") {
    rec.reason = REASONS[e.reason] ?? REASONS[0];
    rec.self_revocation = e.self;
  }
  if (e.event === "APIKeyCreated") rec.operation = e.operation;
  if (e.event === "APIKeyRotated") rec.new_key_id = e.newKeyId;
  if (e.event === "TokenDerived") rec.algorithm = e.algorithm;
  return rec;
}

/**
 * Audit events as info log records; verification failures are sampled to at most 10 a minute so
 * a credential-stuffing burst cannot flood the log. Never logs the credential itself.
 */
export function auditObservers(logger: Logger, now: () => number = Date.now): Pick<RuntimeObservers, "event" | "verification"> {
  let windowStart = 0;
  let inWindow = 0;
  return {
    // the authenticated admin caller's name (serve.admin_auth), never its credential
    event: (e) => {
      const principal = currentAdminPrincipal()?.name;
      logger.info(principal === undefined ? auditRecord(e) : { ...auditRecord(e), principal }, "audit");
    },
    verification(v: Verification) {
      if (v.isValid) return;
      const t = now();
      if (t - windowStart >= 60_000) {
        windowStart = t;
        inWindow = 0;
      }
      if (++inWindow > FAILURES_PER_MINUTE) return;
      logger.info(
        {
          event: "APIKeyVerificationFailed",
          kind: v.credentialType ?? "unknown",
          key_id: v.keyId || undefined,
          error_code: `VERIFICATION_ERROR_${CODES[v.errorCode] ?? "INTERNAL"}`,
        },
        "audit",
      );
    },
  };
}
