import { formatDurationMs } from "../duration.js";
import type { ServiceContext } from "../services/context.js";
import { recordEvents } from "./record.js";

/** Keys per scan transaction: bounded work and lock time, however many keys expire at once. */
export const EXPIRY_BATCH = 500;
const DAY_MS = 86_400_000;

export interface ExpiryScanResult {
  /** false: another instance holds the scan lock; nothing was done */
  ran: boolean;
  expiring: number;
  expired: number;
  pruned: number;
}

/**
 * docs/events.md#expiry-warnings. One instance at a time (a transaction-scoped advisory lock);
 * marks make each warning fire once per key and window even across instances and restarts.
 * Narrowest window first, marking the wider ones too: a key that enters several at once warns once.
 */
export async function scanExpiry(ctx: ServiceContext, batch = EXPIRY_BATCH): Promise<ExpiryScanResult> {
  const cfg = ctx.config.events;
  const out: ExpiryScanResult = { ran: true, expiring: 0, expired: 0, pruned: 0 };
  if (!cfg.enabled) return out;
  const windows = [...cfg.expiring_before].sort((a, b) => a - b);
  const mark = (w: number) => `expiring:${formatDurationMs(w)}`;
  for (;;) {
    const step = await ctx.store.transaction(async (repo) => {
      if (!(await repo.events.tryScanLock())) return null;
      const now = ctx.clock();
      const t = new Date(now);
      let expiring = 0;
      let expired = 0;
      let more = false;
      // expired: only keys that expired within the retention, so pruned marks never re-fire
      const gone = await repo.events.expiryCandidates(ctx.nid, "expired", new Date(now - cfg.retention), t, batch);
      const freshGone = await repo.events.addMarks(ctx.nid, gone.map((k) => k.keyId), ["expired", ...windows.map(mark)]);
      const goneEvents = gone.filter((k) => freshGone.has(k.keyId));
      await recordEvents(ctx, repo, goneEvents.map((record) => ({ type: "api_key.expired", record, payload: { expire_time: record.expireTime?.toISOString() ?? null }, source: "expiry_scan" })));
      expired += goneEvents.length;
      more ||= gone.length === batch;
      for (const [i, w] of windows.entries()) {
        const soon = await repo.events.expiryCandidates(ctx.nid, mark(w), t, new Date(now + w), batch);
        const fresh = await repo.events.addMarks(ctx.nid, soon.map((k) => k.keyId), windows.slice(i).map(mark));
        const evs = soon.filter((k) => fresh.has(k.keyId));
        await recordEvents(
          ctx,
          repo,
          evs.map((record) => ({
            type: "api_key.expiring",
            record,
            payload: { expire_time: record.expireTime?.toISOString() ?? null, expiring_before: formatDurationMs(w) },
            source: "expiry_scan",
          })),
        );
        expiring += evs.length;
        more ||= soon.length === batch;
      }
      return { expiring, expired, more };
    });
    if (!step) return { ...out, ran: false };
    out.expiring += step.expiring;
    out.expired += step.expired;
    if (!step.more) break;
  }
  out.pruned = await pruneEvents(ctx);
  return out;
}

/** Retention (docs/events.md#retention): events older than events.retention, in bounded batches; marks no key can need any more. */
export async function pruneEvents(ctx: ServiceContext, batch = 5_000): Promise<number> {
  const cfg = ctx.config.events;
  const now = ctx.clock();
  let total = 0;
  for (;;) {
    const n = await ctx.store.repo.events.prune(new Date(now - cfg.retention), batch);
    total += n;
    if (n < batch) break;
  }
  const widest = Math.max(0, ...cfg.expiring_before);
  await ctx.store.repo.events.pruneMarks(new Date(now - cfg.retention - widest - DAY_MS));
  return total;
}
