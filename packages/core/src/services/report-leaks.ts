import { TalosError } from "../errors.js";
import { importedKeyId } from "../keys/imported-key.js";
import { RevocationReason, type KeyKind, type KeyRecord } from "../types.js";
import { CREDENTIAL_MAX_CHARS } from "../verify/verifier.js";
import { withPrincipal, type ServiceContext } from "./context.js";
import { revokeKey } from "./revoke-key.js";

/** One leaked-secret report (GitHub sends `{token, type, url, source}`). */
export interface LeakReport {
  token: string;
  /** the reporter's name for the secret's pattern, echoed back */
  type: string;
  /** where the secret was found */
  url?: string;
  /** what kind of place it was found in (content, commit, npm, ...) */
  source?: string;
}

/** true_positive: the token is a genuine credential of this server (docs/leaked-keys.md#labels). */
export type LeakLabel = "true_positive" | "false_positive";

export interface LeakOutcome {
  label: LeakLabel;
  /** true when this report revoked the key (it was not revoked before) */
  revoked: boolean;
}

export interface ReportLeaksOptions {
  /** who reported: recorded as the principal's name */
  reporter: string;
  /** derived tokens cannot be revoked; this says whether one is genuine (verifies now) */
  derivedTokenValid?: (token: string) => Promise<boolean>;
}

/** Most reports one call handles (GitHub batches matches; docs/leaked-keys.md#the-receiver). */
export const MAX_LEAK_REPORTS = 1000;

/**
 * docs/leaked-keys.md#what-happens: every report naming a key of this server that is not revoked yet
 * revokes it with KEY_COMPROMISE, recording the report's url and source with the change (the leak
 * event); already revoked keys and genuine derived tokens are labelled without a change.
 */
export async function reportLeaks(ctx: ServiceContext, reports: readonly LeakReport[], opts: ReportLeaksOptions): Promise<LeakOutcome[]> {
  if (reports.length > MAX_LEAK_REPORTS) {
    throw new TalosError("request_too_large", `a report holds at most ${MAX_LEAK_REPORTS} tokens`);
  }
  const actx = withPrincipal(ctx, { source: "secret_scanning", name: opts.reporter });
  const targets = reports.map((r) => target(ctx, r.token));
  // one round trip for every key the report can name
  const ids = [...new Set(targets.flatMap((t) => (t && "keyId" in t ? [t.keyId] : [])))];
  const found = new Map((ids.length > 0 ? await ctx.store.repo.getKeys(ctx.nid, ids) : []).map((k) => [k.keyId, k]));
  const out: LeakOutcome[] = [];
  for (let i = 0; i < reports.length; i++) {
    const t = targets[i];
    if (!t) out.push(FALSE);
    else if ("derived" in t) out.push((await opts.derivedTokenValid?.(reports[i]!.token)) ? KNOWN : FALSE);
    else out.push(await revokeLeaked(actx, t, found.get(t.keyId), reports[i]!));
  }
  return out;
}

const FALSE: LeakOutcome = { label: "false_positive", revoked: false };
const KNOWN: LeakOutcome = { label: "true_positive", revoked: false };

type Target = { kind: KeyKind; keyId: string } | { derived: true } | null;

/** What a token names, decided without storage: a key id to look up, a derived token, or nothing of ours. */
function target(ctx: ServiceContext, token: string): Target {
  if (token === "" || token.length > CREDENTIAL_MAX_CHARS) return null;
  const route = ctx.crypto.route(token);
  if (route.type === "jwt" || route.type === "macaroon") return { derived: true };
  if (route.type === "issued") return ctx.crypto.checkIssued(route.parsed) ? { kind: "issued", keyId: route.parsed.keyId } : null;
  return { kind: "imported", keyId: importedKeyId(ctx.nid, token) };
}

async function revokeLeaked(ctx: ServiceContext, t: { kind: KeyKind; keyId: string }, rec: KeyRecord | undefined, r: LeakReport): Promise<LeakOutcome> {
  if (!rec || rec.kind !== t.kind) return FALSE;
  if (rec.revoked) return KNOWN;
  const leak = { ...(r.url !== undefined && { url: r.url }), ...(r.source !== undefined && { source: r.source }) };
  try {
    await revokeKey(ctx, t.kind, t.keyId, { reason: RevocationReason.KEY_COMPROMISE, description: "", leak });
    return { label: "true_positive", revoked: true };
  } catch (e) {
    // revoked (conflict: also the same token twice in one report) or deleted since the read
    if (e instanceof TalosError && e.id === "conflict") return KNOWN;
    if (e instanceof TalosError && e.id === "api_key_not_found") return FALSE;
    throw e;
  }
}
