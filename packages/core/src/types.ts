/** Domain types shared by every layer. Enums are stored and passed as their numbers (docs/wire.md#enums). */

export const NIL_NID = "00000000-0000-0000-0000-000000000000";

export type KeyKind = "issued" | "imported";

export const KeyStatus = { UNSPECIFIED: 0, ACTIVE: 1, REVOKED: 2, EXPIRED: 3 } as const;
export type KeyStatus = (typeof KeyStatus)[keyof typeof KeyStatus];

export const KeyVisibility = { UNSPECIFIED: 0, SECRET: 1, PUBLIC: 2 } as const;
export type KeyVisibility = (typeof KeyVisibility)[keyof typeof KeyVisibility];

export const RevocationReason = {
  UNSPECIFIED: 0,
  KEY_COMPROMISE: 1,
  AFFILIATION_CHANGED: 2,
  SUPERSEDED: 3,
  PRIVILEGE_WITHDRAWN: 4,
} as const;
export type RevocationReason = (typeof RevocationReason)[keyof typeof RevocationReason];

export const VerificationError = {
  UNSPECIFIED: 0,
  INVALID_FORMAT: 1,
  EXPIRED: 2,
  REVOKED: 3,
  NOT_FOUND: 4,
  SIGNATURE_INVALID: 5,
  INTERNAL: 6,
  IP_NOT_ALLOWED: 7,
  RATE_LIMITED: 8,
} as const;
export type VerificationError = (typeof VerificationError)[keyof typeof VerificationError];

export interface RateLimitPolicy {
  quota: number;
  /** whole seconds, >= 1 */
  windowSeconds: number;
  unit: string;
}

/** One stored API key (issued or imported). Never holds a secret. */
export interface KeyRecord {
  nid: string;
  kind: KeyKind;
  keyId: string;
  name: string;
  actorId: string;
  scopes: string[];
  metadata: Record<string, unknown> | null;
  createTime: Date;
  updateTime: Date;
  expireTime: Date | null;
  lastUsedTime: Date | null;
  rateLimitPolicy: RateLimitPolicy | null;
  /** null when unrestricted (an empty list is stored as null) */
  allowedCidrs: string[] | null;
  revoked: boolean;
  revocationReason: RevocationReason;
  revocationDescription: string;
  visibility: KeyVisibility;
  requestId: string | null;
  requestFingerprint: string | null;
}

/** docs/wire.md#api-key-resource: status is computed at read time. */
export function keyStatus(rec: Pick<KeyRecord, "revoked" | "expireTime">, now: number): KeyStatus {
  if (rec.revoked) return KeyStatus.REVOKED;
  if (rec.expireTime && rec.expireTime.getTime() <= now) return KeyStatus.EXPIRED;
  return KeyStatus.ACTIVE;
}

/**
 * A fresh, active record with every optional field at its zero value; `init` overrides any of
 * them. The one place a whole KeyRecord is spelled out.
 */
export function keyRecord(init: Pick<KeyRecord, "nid" | "kind" | "keyId"> & Partial<KeyRecord>, at: Date = new Date()): KeyRecord {
  return {
    name: "",
    actorId: "",
    scopes: [],
    metadata: null,
    createTime: at,
    updateTime: at,
    expireTime: null,
    lastUsedTime: null,
    rateLimitPolicy: null,
    allowedCidrs: null,
    revoked: false,
    revocationReason: RevocationReason.UNSPECIFIED,
    revocationDescription: "",
    visibility: KeyVisibility.SECRET,
    requestId: null,
    requestFingerprint: null,
    ...init,
  };
}

/** Where a change came from: recorded with audit records and lifecycle events. */
export type ChangeSource = "admin_api" | "self_revoke" | "secret_scanning" | "bulk_revoke" | "expiry_scan";
