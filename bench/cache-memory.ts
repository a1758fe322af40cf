import { parseArgs } from "node:util";
import { randomBytes, randomUUID } from "node:crypto";
import { createKeyCache, NIL_NID, toCachedKey, type KeyRecord } from "@talos/core";
import { round } from "./stats.js";

/**
 * Heap used by the real verification cache holding N realistic key records (docs/verification.md#cache).
 * Run with `node --expose-gc --import tsx bench/cache-memory.ts --entries 1000000`.
 * Every record gets its own strings, arrays, Dates and metadata object, as rows decoded by the
 * database driver do (shared literals would understate the cost). Prints CACHE_MEMORY <json>.
 */
const { values } = parseArgs({ options: { entries: { type: "string", default: "1000000" } } });
const entries = Number(values.entries);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

/** A fresh heap string with the same characters, like a driver decoding a row. */
const fresh = (s: string): string => Buffer.from(s, "latin1").toString("latin1");
const DAY = 86_400_000;

function record(i: number, now: number): KeyRecord {
  const created = now - (i % 365) * DAY;
  const withRequestId = i % 4 === 0;
  return {
    nid: fresh(NIL_NID),
    kind: i % 5 === 0 ? "imported" : "issued",
    // fresh(): randomUUID() builds its text by concatenation, a rope several times the size of
    // the flat string a driver decodes; measuring ropes overstated the cache by ~340 B per entry
    keyId: i % 5 === 0 ? randomBytes(32).toString("hex") : fresh(randomUUID()),
    name: fresh(`service-key-${i}`),
    actorId: fresh(`user-${i % 100_000}`),
    scopes: [fresh("keys:read"), fresh("keys:write"), fresh(`project:${i % 1000}:admin`)],
    metadata: JSON.parse(`{"plan":"enterprise","team":"team-${i % 500}","region":"eu-west-1","tier":${i % 3},"owner_email":"owner${i}@example.com"}`) as Record<string, unknown>,
    createTime: new Date(created),
    updateTime: new Date(created + 1000),
    expireTime: new Date(now + 180 * DAY),
    lastUsedTime: i % 2 === 0 ? new Date(now - DAY) : null,
    rateLimitPolicy: { quota: 1000 + (i % 10), windowSeconds: 60, unit: fresh("requests") },
    allowedCidrs: i % 10 === 0 ? [fresh("10.0.0.0/8"), fresh(`192.168.${i % 256}.0/24`)] : null,
    revoked: false,
    revocationReason: 0,
    revocationDescription: "",
    visibility: 1,
    requestId: withRequestId ? randomUUID() : null,
    requestFingerprint: withRequestId ? randomBytes(32).toString("hex") : null,
  };
}

gc();
gc();
const before = process.memoryUsage();
const started = performance.now();
const now = Date.now();
const cache = createKeyCache({ nid: NIL_NID, ttlMs: 3_600_000, maxEntries: entries, now: Date.now });
// as the verifier does after a database read: KeyRecord -> the cached form
for (let i = 0; i < entries; i++) cache.set(toCachedKey(record(i, now)), now);
const fillMs = performance.now() - started;
gc();
gc();
const after = process.memoryUsage();
if (cache.size !== entries) throw new Error(`cache holds ${cache.size} entries, expected ${entries}`);
const heapDelta = after.heapUsed - before.heapUsed;
const out = {
  entries,
  heapUsedDeltaBytes: heapDelta,
  heapUsedDeltaMiB: round(heapDelta / 2 ** 20, 1),
  bytesPerEntry: round(heapDelta / entries, 1),
  rssDeltaMiB: round((after.rss - before.rss) / 2 ** 20, 1),
  externalDeltaMiB: round((after.external + after.arrayBuffers - before.external - before.arrayBuffers) / 2 ** 20, 1),
  fillSeconds: round(fillMs / 1000, 2),
};
process.stdout.write(`CACHE_MEMORY ${JSON.stringify(out)}\n`);
