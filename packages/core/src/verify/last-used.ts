import type { Store, LastUsedTouch } from "../store/types.js";

const DAY_MS = 86_400_000;

export interface LastUsedStats {
  dropped: number;
  flushes: number;
}

/**
 * Records successful uses off the request path (docs/verification.md#last-used-time): at most one queued write per key
 * per UTC day, batched UPDATEs, a full queue drops (counted) rather than blocks.
 */
export class LastUsedQueue {
  readonly stats: LastUsedStats = { dropped: 0, flushes: 0 };
  private queue = new Map<string, LastUsedTouch>();
  /** key -> UTC day already recorded by this process (bounded by being cleared at day change) */
  private seen = new Map<string, number>();
  private seenDay = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly opts: { queueSize: number; flushSize: number; flushIntervalMs: number; onError?: (e: unknown) => void },
  ) {
    this.timer = setInterval(() => void this.flush(), opts.flushIntervalMs);
    this.timer.unref();
  }

  /** `stored`: the record's last_used_time (a Date, or epoch ms as the verification cache holds it) */
  record(nid: string, keyId: string, stored: Date | number | null, now: number): void {
    const day = Math.floor(now / DAY_MS);
    if (stored !== null && Math.floor((typeof stored === "number" ? stored : stored.getTime()) / DAY_MS) >= day) return;
    if (day !== this.seenDay) {
      this.seen.clear();
      this.seenDay = day;
    }
    const k = `${nid}:${keyId}`;
    if (this.seen.get(k) === day) return;
    if (this.queue.size >= this.opts.queueSize) {
      this.stats.dropped++;
      return;
    }
    this.seen.set(k, day);
    this.queue.set(k, { nid, keyId, time: new Date(now) });
    if (this.queue.size >= this.opts.flushSize) void this.flush();
  }

  get pending(): number {
    return this.queue.size;
  }

  /** Writes everything queued so far, in batches of flushSize. */
  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      while (this.queue.size > 0) {
        const batch: LastUsedTouch[] = [];
        for (const [k, v] of this.queue) {
          batch.push(v);
          this.queue.delete(k);
          if (batch.length >= this.opts.flushSize) break;
        }
        try {
          await this.store.repo.touchLastUsed(batch);
          this.stats.flushes++;
        } catch (e) {
          this.opts.onError?.(e); // losing uses is acceptable (docs/verification.md#last-used-time)
        }
      }
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
