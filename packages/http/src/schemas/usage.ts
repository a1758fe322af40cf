import { z } from "zod";
import { USAGE_OUTCOMES, type KeyUsage } from "@talos/core";
import { timestampMs } from "../codec.js";

/** docs/observability.md#usage-history: the series of GET /v2alpha1/admin/apiKeys/{key_id}/usage. */
const Count = z.string().meta({ description: "int64 as a decimal string" });

export const UsageBucket = z
  .object({
    start_time: z.string().meta({ format: "date-time" }).describe("The bucket's first instant (UTC hour or day)"),
    total: Count,
    ...Object.fromEntries(USAGE_OUTCOMES.map((o) => [o, Count])),
  })
  .meta({ id: "UsageBucket" });

export const KeyUsageResponse = z
  .object({
    key_id: z.string(),
    granularity: z.enum(["hour", "day"]),
    start_time: z.string().meta({ format: "date-time" }).describe("Inclusive, on a bucket boundary"),
    end_time: z.string().meta({ format: "date-time" }).describe("Exclusive, on a bucket boundary"),
    buckets: z.array(UsageBucket).describe("Every bucket of the range, oldest first, zeros included"),
  })
  .meta({ id: "KeyUsageResponse" });

export function encodeUsage(u: KeyUsage): z.infer<typeof KeyUsageResponse> {
  return {
    key_id: u.keyId,
    granularity: u.granularity,
    start_time: timestampMs(u.start)!,
    end_time: timestampMs(u.end)!,
    buckets: u.buckets.map((b) => {
      const out: Record<string, string> = { start_time: timestampMs(b.start)!, total: String(b.total) };
      for (const o of USAGE_OUTCOMES) out[o] = String(b.counts[o]);
      return out as z.infer<typeof UsageBucket>;
    }),
  };
}
