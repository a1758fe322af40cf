import { describe, expect, it } from "vitest";
import { openStore } from "../store/index.js";
import { NIL_NID, VerificationError } from "../types.js";
import { UsageCounter, usageOutcome } from "./counter.js";

const HOUR = 3_600_000;
const T = Date.UTC(2026, 5, 1, 10, 59, 59);

describe("UsageCounter (docs/observability.md#usage-history)", () => {
  it("maps the counted verification codes and leaves the others out", () => {
    expect(usageOutcome(VerificationError.UNSPECIFIED)).toBe("valid");
    expect(usageOutcome(VerificationError.IP_NOT_ALLOWED)).toBe("ip_denied");
    expect(usageOutcome(VerificationError.RATE_LIMITED)).toBe("rate_limited");
    expect(usageOutcome(VerificationError.INVALID_FORMAT)).toBeUndefined();
    expect(usageOutcome(VerificationError.INTERNAL)).toBeUndefined();
  });

  it("buckets by UTC hour and outcome, and writes flushSize rows per statement", async () => {
    const store = await openStore("memory");
    try {
      const c = new UsageCounter(store, { maxCells: 100, flushSize: 2, flushIntervalMs: HOUR, retentionMs: 90 * 24 * HOUR, now: () => T });
      c.record(NIL_NID, "k1", "valid", T);
      c.record(NIL_NID, "k1", "valid", T);
      c.record(NIL_NID, "k1", "valid", T + 1000); // 11:00: the next hour
      c.record(NIL_NID, "k1", "revoked", T);
      c.record(NIL_NID, "k2", "valid", T);
      expect(c.pending).toBe(4);
      await c.close();
      expect(c.stats.flushes).toBe(2);
      const rows = await store.repo.usageOf(NIL_NID, "k1", new Date(T - HOUR), new Date(T + 2 * HOUR));
      expect(rows.map((r) => [r.hour.toISOString(), r.outcome, r.count])).toEqual([
        ["2026-06-01T10:00:00.000Z", "revoked", 1],
        ["2026-06-01T10:00:00.000Z", "valid", 2],
        ["2026-06-01T11:00:00.000Z", "valid", 1],
      ]);
    } finally {
      await store.close();
    }
  });

  it("keeps the counts of a failed flush for the next one", async () => {
    const store = await openStore("memory");
    const errors: unknown[] = [];
    const c = new UsageCounter(store, { maxCells: 100, flushSize: 10, flushIntervalMs: HOUR, retentionMs: HOUR, now: () => T, onError: (e) => errors.push(e) });
    c.record(NIL_NID, "k1", "valid", T);
    await store.close(); // the database is gone: the write fails
    await c.flush();
    expect(errors).toHaveLength(1);
    expect(c.stats.errors).toBe(1);
    expect(c.pending).toBe(1);
    c.record(NIL_NID, "k1", "valid", T);
    expect(c.pending).toBe(1); // merged into the kept cell
    await c.close().catch(() => {});
  });
});
