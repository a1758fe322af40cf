import { parseArgs } from "node:util";
import postgres from "postgres";
import { percentiles, round } from "./stats.js";

/**
 * postgres.js alone doing the primary-key lookup verify does on a cache miss (same table, same
 * predicate, prepared statement, same pool size), at the same number of in-flight lookups as the
 * HTTP run has connections. Not HTTP: the figure is lookups/s, the ceiling for "verify no-cache".
 * Prints one line: PG_DIRECT <json>.
 */
const { values } = parseArgs({
  options: {
    dsn: { type: "string" },
    keys: { type: "string" },
    nid: { type: "string", default: "00000000-0000-0000-0000-000000000000" },
    concurrency: { type: "string", default: "32" },
    pool: { type: "string", default: "10" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    "max-lookups": { type: "string", default: "5000000" },
  },
});
if (!values.dsn || !values.keys) throw new Error("usage: pg-direct.ts --dsn <postgres://…> --keys <id,id,…>");
const keyIds = values.keys.split(",");
const nid = values.nid!;
const concurrency = Number(values.concurrency);
const maxLookups = Number(values["max-lookups"]);

const sql = postgres(values.dsn, {
  max: Number(values.pool),
  onnotice: () => {},
  connection: { application_name: "talos-bench-pg-direct", TimeZone: "UTC" },
});

async function run(seconds: number, record: boolean) {
  const samples = new Float64Array(record ? maxLookups : 0);
  let n = 0;
  let errors = 0;
  let done = 0;
  const stopAt = performance.now() + seconds * 1000;
  const worker = async (w: number) => {
    let i = w;
    while (performance.now() < stopAt && done < maxLookups) {
      const keyId = keyIds[i++ % keyIds.length]!;
      const t = performance.now();
      try {
        const rows = await sql`select * from api_keys where nid = ${nid} and key_id = ${keyId} limit 1`;
        if (rows.length !== 1) errors++;
      } catch {
        errors++;
      }
      done++;
      if (record && n < samples.length) samples[n++] = performance.now() - t;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  return { lookups: done, elapsed, errors, lat: percentiles(samples, n) };
}

try {
  await run(Number(values.warmup), false);
  const r = await run(Number(values.duration), true);
  const out = {
    lookupsPerSec: round(r.lookups / r.elapsed, 1),
    lookups: r.lookups,
    seconds: round(r.elapsed, 2),
    errors: r.errors,
    p50: round(r.lat.p50, 3),
    p99: round(r.lat.p99, 3),
    max: round(r.lat.max, 3),
    concurrency,
    pool: Number(values.pool),
  };
  process.stdout.write(`PG_DIRECT ${JSON.stringify(out)}\n`);
} finally {
  await sql.end({ timeout: 5 });
}
