import { badRequest, notFound } from "../errors.js";
import { parseRfc3339 } from "../config/fields.js";
import { USAGE_OUTCOMES, type UsageOutcome } from "../usage/counter.js";
import type { ServiceContext } from "./context.js";
import { isImportedKeyId, isUuid } from "../keys/ids.js";

export type UsageGranularity = "hour" | "day";

export interface KeyUsageInput {
  keyId: string;
  /** "hour" (default) or "day"; anything else is a bad request */
  granularity?: string;
  /** RFC 3339; default: 24 buckets (hour) or 30 buckets (day) before end_time */
  startTime?: string;
  /** RFC 3339; default: now */
  endTime?: string;
}

export interface UsageBucket {
  /** the bucket's first instant, ms since epoch */
  start: number;
  counts: Record<UsageOutcome, number>;
  total: number;
}

export interface KeyUsage {
  keyId: string;
  granularity: UsageGranularity;
  start: number;
  end: number;
  buckets: UsageBucket[];
}

const STEP_MS: Record<UsageGranularity, number> = { hour: 3_600_000, day: 86_400_000 };
const DEFAULT_BUCKETS: Record<UsageGranularity, number> = { hour: 24, day: 30 };
/** a bound on the answer's size: a month of hours, a year and a day of days */
const MAX_BUCKETS: Record<UsageGranularity, number> = { hour: 744, day: 366 };

const LATEST = Date.UTC(9999, 11, 30);

function instant(field: string, text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  const ms = parseRfc3339(text);
  if (ms === null) throw badRequest(field, 'must be an RFC 3339 timestamp such as "2030-01-01T00:00:00Z"');
  // no count lies outside; the bound keeps every rounded bucket edge a four-digit year for SQL and the answer
  if (ms < 0 || ms > LATEST) throw badRequest(field, "must lie between 1970-01-01T00:00:00Z and 9999-12-30T00:00:00Z");
  return ms;
}

/**
 * docs/observability.md#usage-history: a key's verification counts per hour or UTC day, every bucket
 * of the range present (zeros included). Counts still in memory appear after the next flush. A key
 * id that neither exists nor has counts in the range is not found.
 */
export async function getKeyUsage(ctx: ServiceContext, input: KeyUsageInput): Promise<KeyUsage> {
  const g = input.granularity === undefined || input.granularity === "" ? "hour" : input.granularity;
  if (g !== "hour" && g !== "day") throw badRequest("granularity", "must be hour or day");
  const step = STEP_MS[g];
  const endGiven = instant("end_time", input.endTime);
  const now = ctx.clock();
  // end_time is exclusive, rounded up to a boundary; without one the current bucket is the last
  const end = endGiven === undefined ? now - (now % step) + step : endGiven % step === 0 ? endGiven : endGiven - (endGiven % step) + step;
  const startRaw = instant("start_time", input.startTime) ?? end - DEFAULT_BUCKETS[g] * step;
  const start = startRaw - (startRaw % step);
  if (start >= end) throw badRequest("start_time", "must be before end_time");
  if ((end - start) / step > MAX_BUCKETS[g]) throw badRequest("start_time", `the range may span at most ${MAX_BUCKETS[g]} ${g}s`);

  const keyId = input.keyId.toLowerCase();
  if (!isUuid(keyId) && !isImportedKeyId(keyId)) throw notFound();
  const rows = await ctx.store.repo.usageOf(ctx.nid, keyId, new Date(start), new Date(end));
  if (rows.length === 0 && !(await ctx.store.repo.getKey(ctx.nid, keyId))) throw notFound();

  const buckets: UsageBucket[] = [];
  for (let t = start; t < end; t += step) {
    buckets.push({ start: t, counts: Object.fromEntries(USAGE_OUTCOMES.map((o) => [o, 0])) as Record<UsageOutcome, number>, total: 0 });
  }
  for (const r of rows) {
    const b = buckets[Math.floor((r.hour.getTime() - start) / step)];
    if (!b || !(r.outcome in b.counts)) continue;
    b.counts[r.outcome as UsageOutcome] += r.count;
    b.total += r.count;
  }
  return { keyId, granularity: g, start, end, buckets };
}
