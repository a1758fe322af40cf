import type { Config } from "../config/types.js";
import type { Clock } from "../clock.js";
import type { Store } from "../store/types.js";
import type { ChangeSource, KeyKind, KeyRecord } from "../types.js";
import type { KeyCrypto } from "../keys/key-crypto.js";

/** Audit events (docs/server.md#health-version-metrics-and-logs); the HTTP layer turns them into log records and metrics. */
export type AuditEvent =
  | { event: "APIKeyCreated"; kind: KeyKind; keyId: string; actorId: string; operation: "issue" | "import" | "batch_import" | "rotation" }
  | { event: "APIKeyUpdated"; kind: KeyKind; keyId: string; actorId: string }
  | { event: "APIKeyRevoked"; kind: KeyKind; keyId: string; actorId: string; reason: number; self: boolean }
  | { event: "APIKeyRotated"; kind: KeyKind; keyId: string; actorId: string; newKeyId: string }
  | { event: "ImportedAPIKeyDeleted"; kind: "imported"; keyId: string; actorId: string }
  | { event: "TokenDerived"; kind: KeyKind; keyId: string; actorId: string; algorithm: "jwt" | "macaroon" };

export interface ServiceHooks {
  /** After a mutation commits: evict the cache entry locally (cross-instance delivery rides the transaction). */
  afterMutation(kind: KeyKind, keyId: string): void;
  /** Inside the mutating transaction: emit the invalidation notification so it is delivered on commit. */
  invalidationPayload?(kind: KeyKind, keyId: string): { channel: string; payload: string } | null;
  event(e: AuditEvent): void;
}

export type { ChangeSource } from "../types.js";

/** Who asked for a change: the source, and the authenticated principal's name when there is one (never a credential). */
export interface Principal {
  readonly source: ChangeSource;
  readonly name?: string;
}

/** Everything a verb needs, built once at start-up and injected. */
export interface ServiceContext {
  config: Config;
  store: Store;
  clock: Clock;
  nid: string;
  crypto: KeyCrypto;
  hooks: ServiceHooks;
  /** absent: the admin API without a named principal */
  principal?: Principal;
  /** the admin caller of the request being served, when admin authentication named one */
  principalName?: () => string | undefined;
}

/** A per-request view of `ctx` for `principal` (the shared context stays untouched). */
export function withPrincipal(ctx: ServiceContext, principal: Principal): ServiceContext {
  return { ...ctx, principal };
}

export const noopHooks: ServiceHooks = { afterMutation: () => {}, event: () => {} };

export type { KeyRecord };
