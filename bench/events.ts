/**
 * `node --conditions=development --import tsx bench/events.ts [--seconds 5] [--rounds 2] [--connections 16] [--events 2000]`
 *
 * The outbox's cost and the dispatcher's rate (docs/events.md, BENCHMARKS.md):
 * 1. issue + revoke pairs per second with events off, with the outbox alone (events on, no
 *    webhook) and with one webhook (delivery rows, the wake-up NOTIFY and the dispatcher's own
 *    queries and requests on the same machine), interleaved rounds, on PostgreSQL when TALOS_BENCH_DSN or TALOS_TEST_DSN is set (else the embedded
 *    database); target: ratio >= 0.9;
 * 2. webhook dispatch rate: events/s from the outbox to a local node:http receiver.
 * The load client runs in this process: it measures a ratio, not an absolute ceiling.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { loadConfig } from "@talos/core";
import { silentLogger } from "@talos/http";
import { freshDatabase } from "../test/support/postgres.js";
import { createServer, type TalosServer } from "@talos/server";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "2" },
    connections: { type: "string", default: "16" },
    events: { type: "string", default: "2000" },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const DSN = process.env.TALOS_BENCH_DSN || process.env.TALOS_TEST_DSN || "";

async function database(): Promise<{ dsn: string; drop: () => Promise<void> }> {
  if (!DSN) return { dsn: "memory", drop: async () => {} };
  return freshDatabase("talos_bench_events", DSN);
}

async function receiver() {
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      count++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, count: () => count, close: () => new Promise((r) => server.close(r)) };
}

async function start(dsn: string, overrides: Record<string, unknown>): Promise<{ server: TalosServer; base: string }> {
  const { config } = loadConfig({
    env: {},
    overrides: { "db.dsn": dsn, "secrets.hmac.current": "bench-hmac-secret-0123456789abcdef-xyz", "credentials.issuer": "https://bench", "serve.metrics.enabled": false, ...overrides },
  });
  const server = await createServer(config, { logger: silentLogger, migrate: true, production: true });
  const l = await server.listen("admin", { host: "127.0.0.1", port: 0 });
  return { server, base: `http://127.0.0.1:${l.port}` };
}

/** Issue + revoke pairs completed in SECONDS by CONNECTIONS loops. */
async function pairsPerSecond(base: string): Promise<number> {
  const end = Date.now() + SECONDS * 1000;
  let pairs = 0;
  const loop = async () => {
    while (Date.now() < end) {
      const r = await fetch(`${base}/v2alpha1/admin/issuedApiKeys`, { method: "POST", body: JSON.stringify({ name: "b", actor_id: "bench" }), headers: { "content-type": "application/json" } });
      const body = (await r.json()) as { issued_api_key: { key_id: string } };
      const v = await fetch(`${base}/v2alpha1/admin/issuedApiKeys/${body.issued_api_key.key_id}:revoke`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      await v.arrayBuffer();
      if (r.status === 201 && v.status === 204) pairs++;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  return pairs / SECONDS;
}

async function main() {
  const rec = await receiver();
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  // "on" includes one webhook: delivery rows, the wake-up NOTIFY and the dispatcher's own queries
  const on = { "events.enabled": true, "events.webhooks": [{ id: "bench", url: rec.url, secret }] };
  const off = { "events.enabled": false };
  const outbox = { "events.enabled": true };
  const settings = { on, off, outbox };
  const rates: Record<"on" | "off" | "outbox", number[]> = { on: [], off: [], outbox: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? (["off", "outbox", "on"] as const) : (["on", "outbox", "off"] as const)) {
      const db = await database();
      const { server, base } = await start(db.dsn, settings[mode]);
      await pairsPerSecond(base); // warm-up (JIT, pool): not counted — same length as a run
      rates[mode].push(await pairsPerSecond(base));
      console.error(`round ${round} ${mode}: ${Math.round(rates[mode].at(-1)!)} pairs/s`);
      await server.close();
      await db.drop();
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const ratio = mean(rates.on) / mean(rates.off);
  const outboxRatio = mean(rates.outbox) / mean(rates.off);

  // dispatch: from the first commit to the last receipt of N events (batch imports of 1000)
  const n = Number(args.events);
  const db = await database();
  const { server, base } = await start(db.dsn, { "events.enabled": true, "events.webhooks": [{ id: "bench", url: rec.url, secret }], "events.delivery.concurrency": 32 });
  const before = rec.count();
  const t0 = Date.now();
  for (let i = 0; i < n; i += 1000) {
    const requests = Array.from({ length: Math.min(1000, n - i) }, () => ({ raw_key: `sk_bench_${randomBytes(20).toString("hex")}`, name: "d", actor_id: "bench" }));
    const res = await fetch(`${base}/v2alpha1/admin/importedApiKeys:batchCreate`, { method: "POST", body: JSON.stringify({ requests }), headers: { "content-type": "application/json" } });
    if (res.status !== 200) throw new Error(`batch import answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  }
  while (rec.count() - before < n && Date.now() - t0 < 120_000) await sleep(20);
  const dispatchRate = (rec.count() - before) / ((Date.now() - t0) / 1000);
  await server.close();
  await db.drop();
  await rec.close();

  const out = {
    database: DSN ? "postgres" : "embedded",
    seconds: SECONDS,
    rounds: ROUNDS,
    connections: CONNECTIONS,
    issue_revoke_pairs_per_s: { off: rates.off.map(Math.round), outbox: rates.outbox.map(Math.round), on_with_webhook: rates.on.map(Math.round) },
    ratio_outbox_off: Math.round(outboxRatio * 1000) / 1000,
    ratio_on_with_webhook_off: Math.round(ratio * 1000) / 1000,
    ratio_target: 0.9,
    dispatch_events_per_s: Math.round(dispatchRate),
    dispatch_events: n,
  };
  console.log(JSON.stringify(out, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
