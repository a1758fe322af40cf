import { TalosError, badRequest } from "../errors.js";
import { normaliseFilter, parseFilter } from "../list/filter.js";
import { decodePageToken, encodePageToken } from "../list/page-token.js";
import { KeyStatus, RevocationReason, type KeyKind } from "../types.js";
import { withPrincipal, type ServiceContext } from "./context.js";
import { revokeKey } from "./revoke-key.js";

export interface BatchRevokeInput {
  /** `actor_id="…"`, optionally `AND kind=issued|imported` (docs/leaked-keys.md#bulk-revoke-by-owner) */
  filter: string;
  reason: number;
  description: string;
  /** from a previous answer's next_page_token: continue where it stopped */
  pageToken?: string;
}

export interface BatchRevokeResult {
  revokedCount: number;
  /** "" when every active key of the actor is revoked; else pass it back to continue */
  nextPageToken: string;
}

/** Keys read per database round trip. */
export const BATCH_REVOKE_CHUNK = 200;
/** Keys one call revokes at most; past it the answer carries a continuation. */
export const BATCH_REVOKE_MAX_PER_CALL = 1000;
/** Revocations in flight at once: each is its own short transaction (the embedded database runs them one by one). */
const REVOKE_CONCURRENCY = 4;

const KINDS: readonly KeyKind[] = ["issued", "imported"];
// binds continuation tokens to this verb: a list page token never resumes a batch revoke
const TOKEN_SCOPE = "batchRevoke:";

/**
 * docs/leaked-keys.md#bulk-revoke-by-owner: revokes every active key of one actor through revokeKey,
 * one key per transaction (each with its own cache invalidation and event), in bounded chunks.
 */
export async function batchRevokeKeys(ctx: ServiceContext, input: BatchRevokeInput, limit = BATCH_REVOKE_MAX_PER_CALL): Promise<BatchRevokeResult> {
  const filter = parseFilter(input.filter, ["actor_id", "kind"]);
  if (filter.actorId === undefined) throw badRequest("filter", 'must name one actor: actor_id="…"');
  if (input.description !== "" && input.reason !== RevocationReason.PRIVILEGE_WITHDRAWN) {
    throw badRequest("description", "is only allowed with REVOCATION_REASON_PRIVILEGE_WITHDRAWN");
  }
  const scope = TOKEN_SCOPE + normaliseFilter(filter);
  const kinds = filter.kind ? [filter.kind] : KINDS;
  let start = { kind: kinds[0]!, after: undefined as string | undefined };
  if (input.pageToken) start = resumeAt(ctx, input.pageToken, scope, kinds);
  const bctx = withPrincipal(ctx, { source: "bulk_revoke", ...(ctx.principal?.name !== undefined && { name: ctx.principal.name }) });
  const revokeInput = { reason: input.reason, description: input.description };
  let revoked = 0;
  // keys looked at (revoked, or revoked meanwhile by someone else): what the per-call limit bounds
  let done = 0;
  for (const kind of kinds.slice(kinds.indexOf(start.kind))) {
    let after = kind === start.kind ? start.after : undefined;
    for (;;) {
      const rows = await ctx.store.repo.listKeys(ctx.nid, {
        kind,
        actorId: filter.actorId,
        status: KeyStatus.ACTIVE,
        afterKeyId: after,
        limit: BATCH_REVOKE_CHUNK,
        now: ctx.clock(),
      });
      for (let i = 0; i < rows.length; ) {
        if (done >= limit) {
          const token = encodePageToken({ nid: ctx.nid, kind, after: after ?? "", filter: scope }, ctx.config.secrets.hmac.current);
          return { revokedCount: revoked, nextPageToken: token };
        }
        const group = rows.slice(i, i + Math.min(REVOKE_CONCURRENCY, limit - done));
        const results = await Promise.all(group.map((rec) => revokeOne(bctx, kind, rec.keyId, revokeInput)));
        revoked += results.filter(Boolean).length;
        done += group.length;
        after = group[group.length - 1]!.keyId;
        i += group.length;
      }
      if (rows.length < BATCH_REVOKE_CHUNK) break;
    }
  }
  return { revokedCount: revoked, nextPageToken: "" };
}

/** false when the key was revoked or deleted by someone else since the read: nothing left to do for it. */
async function revokeOne(ctx: ServiceContext, kind: KeyKind, keyId: string, input: { reason: number; description: string }): Promise<boolean> {
  try {
    await revokeKey(ctx, kind, keyId, input);
    return true;
  } catch (e) {
    if (e instanceof TalosError && (e.id === "conflict" || e.id === "api_key_not_found")) return false;
    throw e;
  }
}

/** The kind and key id a continuation token resumes after; the same token errors as a list's page token does. */
function resumeAt(ctx: ServiceContext, token: string, scope: string, kinds: readonly KeyKind[]): { kind: KeyKind; after: string | undefined } {
  let first: unknown;
  for (const kind of kinds) {
    try {
      const { after } = decodePageToken(token, { nid: ctx.nid, kind, filterNormalised: scope, secrets: ctx.crypto.hmacSecrets() });
      return { kind, after: after === "" ? undefined : after };
    } catch (e) {
      first ??= e;
    }
  }
  throw first;
}
