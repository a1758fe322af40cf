import { createClient, seg } from "./client.js";
import { emit, renderTable } from "./output.js";
import type { CommonOptions } from "./parse.js";

export interface UsageOptions extends CommonOptions {
  granularity?: "hour" | "day";
  start?: string;
  end?: string;
}

/** GET /v2alpha1/admin/apiKeys/{key_id}/usage as the server writes it (docs/observability.md#usage-history). */
interface KeyUsage {
  key_id: string;
  granularity: string;
  start_time: string;
  end_time: string;
  buckets: Record<string, string>[];
}

const OUTCOMES = ["valid", "not_found", "revoked", "expired", "ip_denied", "rate_limited"] as const;

/** `talos keys usage <key-id>`: the series as a table, and on a terminal a sparkline of the totals above it. */
export async function usageCommand(keyId: string, opts: UsageOptions, tty: boolean = process.stdout.isTTY === true): Promise<number> {
  const usage = await createClient(opts).call<KeyUsage>(`/v2alpha1/admin/apiKeys/${seg(keyId)}/usage`, {
    query: { granularity: opts.granularity, start_time: opts.start, end_time: opts.end },
  });
  const spark = tty ? (await import("sparkly")).default : null;
  await emit(opts, usage, {
    table: () => usageTable(usage, spark),
    quiet: () => usage.buckets.map((b) => `${b.start_time} ${b.total}`),
  });
  return 0;
}

export function usageTable(u: KeyUsage, spark: ((n: number[], o?: { minimum?: number }) => string) | null): string {
  const rows = u.buckets.map((b) => [b.start_time ?? "", ...OUTCOMES.map((o) => b[o] ?? "0"), b.total ?? "0"]);
  const table = renderTable(["START", "VALID", "NOT_FOUND", "REVOKED", "EXPIRED", "IP_DENIED", "RATE_LIMITED", "TOTAL"], rows);
  if (!spark) return table;
  const totals = u.buckets.map((b) => Number(b.total ?? 0));
  const sum = totals.reduce((a, n) => a + n, 0);
  return `${u.key_id}  ${u.granularity}ly  ${spark(totals, { minimum: 0 })}  ${sum} total\n\n${table}`;
}
