import type { Store, UsageCount } from "../store/types.js";
import { VerificationError } from "../types.js";

const HOUR_MS = 3_600_000;

/** The outcomes usage history counts (docs/observability.md#usage-history), in display order. */
export const USAGE_OUTCOMES = ["valid", "not_found", "revoked", "expired", "ip_denied", "rate_limited"] as const;
export type UsageOutcome = (typeof USAGE_OUTCOMES)[number];

const BY_CODE: Partial<Record<VerificationError, UsageOutcome>> = {
  [VerificationError.UNSPECIFIED]: "valid",
  [VerificationError.NOT_FOUND]: "not_found",
  [VerificationError.REVOKED]: "revoked",
  [VerificationError.EXPIRED]: "expired",
  [VerificationError.IP_NOT_ALLOWED]: "ip_denied",
  [VerificationError.RATE_LIMITED]: "rate_limited",
};

/** The counted outcome of a verification's error code; undefined for codes not counted (format, internal). */
export const usageOutcome = (code: VerificationError): UsageOutcome | undefined => BY_CODE[code];

export interface UsageStats {
  /** counts dropped because maxCells distinct (key, hour, outcome) cells were pending */
  dropped: number;
  flushes: number;
  /** flushes that failed; their counts are kept for the next one while there is room */
  errors: number;
}

export interface UsageCounterOptions {
  maxCells: number;
  flushSize: number;
  flushIntervalMs: number;
  retentionMs: number;
  now: () => number;
  onError?: (e: unknown) => void;
}

/**
 * Per-key hourly verification counts, summed in memory and added to the database in batches (never
 * a write per request): one cell per (key, hour, outcome), at most maxCells pending, flushed every
 * flushIntervalMs and on close; retention is applied at most once an hour, after a flush.
 */
export class UsageCounter {
  readonly stats: UsageStats = { dropped: 0, flushes: 0, errors: 0 };
  private cells = new Map<string, UsageCount>();
  private timer: NodeJS.Timeout | null;
  private flushing: Promise<void> | null = null;
  private prunedAt = 0;

  constructor(
    private readonly store: Store,
    private readonly opts: UsageCounterOptions,
  ) {
    this.timer = setInterval(() => void this.flush(), opts.flushIntervalMs);
    this.timer.unref();
  }

  record(nid: string, keyId: string, outcome: UsageOutcome, now: number): void {
    const hour = now - (now % HOUR_MS);
    const k = `${hour}|${outcome}|${nid}|${keyId}`;
    const cell = this.cells.get(k);
    if (cell) {
      cell.count++;
      return;
    }
    if (this.cells.size >= this.opts.maxCells) {
      this.stats.dropped++;
      return;
    }
    this.cells.set(k, { nid, keyId, hour: new Date(hour), outcome, count: 1 });
  }

  /** distinct (key, hour, outcome) cells waiting for the next flush */
  get pending(): number {
    return this.cells.size;
  }

  /** Adds everything counted so far to the database, flushSize rows per statement. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    const rows = [...this.cells.values()];
    this.cells = new Map();
    for (let i = 0; i < rows.length; i += this.opts.flushSize) {
      const batch = rows.slice(i, i + this.opts.flushSize);
      try {
        await this.store.repo.addUsage(batch);
        this.stats.flushes++;
      } catch (e) {
        this.stats.errors++;
        this.opts.onError?.(e);
        for (const r of rows.slice(i)) this.putBack(r);
        return;
      }
    }
    await this.prune();
  }

  /** A row whose write failed goes back into the map (merged with newer counts), if there is room. */
  private putBack(r: UsageCount): void {
    const k = `${r.hour.getTime()}|${r.outcome}|${r.nid}|${r.keyId}`;
    const cell = this.cells.get(k);
    if (cell) cell.count += r.count;
    else if (this.cells.size < this.opts.maxCells) this.cells.set(k, r);
    else this.stats.dropped += r.count;
  }

  private async prune(): Promise<void> {
    const now = this.opts.now();
    if (now - this.prunedAt < HOUR_MS) return;
    this.prunedAt = now;
    try {
      await this.store.repo.pruneUsage(new Date(now - this.opts.retentionMs));
    } catch (e) {
      this.prunedAt = 0; // try again after the next flush
      this.opts.onError?.(e);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // a flush under way took its snapshot already: what was counted since needs one more
    await this.flushing;
    await this.flush();
  }
}
