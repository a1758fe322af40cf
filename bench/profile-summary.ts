import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { round } from "./stats.js";

/** The parts of a V8 .cpuprofile (node --cpu-prof) this summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Frame {
  frame: string;
  selfMs: number;
  selfPct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** share of non-idle time */
  busyMs: number;
  top: Frame[];
  /** self time grouped by where the code lives (package, node internals, our workspaces) */
  byArea: { area: string; selfMs: number; pct: number }[];
  /** inclusive time of frames we ask about (logging, zod, JSON, ...) as % of busy time */
  inclusive: { label: string; ms: number; pct: number }[];
}

const short = (url: string): string => {
  if (!url) return "";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  const ws = /\/(packages|apps|bench)\/(.*)$/.exec(url);
  if (ws) return `${ws[1]}/${ws[2]}`;
  return url.replace(/^file:\/\//, "");
};

function area(url: string, name: string): string {
  if (!url) return name.startsWith("(") ? name : "(native/builtin)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith("node:")) return "node:" + (url.split(/[:/]/)[1] ?? "");
  const ws = /\/(packages|apps)\/([^/]+)\//.exec(url);
  if (ws) return `@talos/${ws[2]}`;
  return short(url);
}

/** What we want the inclusive share of; each is a predicate over (functionName, url). */
const INCLUSIVE: { label: string; test: (fn: string, url: string) => boolean }[] = [
  { label: "request log (logger.ts, pino, sonic-boom)", test: (_f, u) => /node_modules\/(pino|sonic-boom|pino-std-serializers|fast-redact|@pinojs)\/|packages\/cli\/src\/logger\.ts/.test(u) },
  { label: "metrics (metrics.ts, series-metrics.ts, prom-client)", test: (_f, u) => /node_modules\/prom-client\/|packages\/http\/src\/(series-)?metrics\.ts/.test(u) },
  { label: "fast route (node:http verify path, fast-route.ts)", test: (_f, u) => /packages\/http\/src\/fast-route\.ts/.test(u) },
  { label: "zod", test: (_f, u) => /node_modules\/zod\//.test(u) },
  { label: "hono", test: (_f, u) => /node_modules\/hono\//.test(u) },
  { label: "@hono/node-server", test: (_f, u) => /node_modules\/@hono\/node-server\//.test(u) },
  { label: "lru-cache", test: (_f, u) => /node_modules\/lru-cache\//.test(u) },
  { label: "JSON.stringify", test: (f) => f === "stringify" },
  { label: "JSON.parse", test: (f) => f === "parse" },
  { label: "randomUUID", test: (f) => f === "randomUUID" },
  { label: "HMAC check (createHmac/digest/timingSafeEqual)", test: (f) => /^(createHmac|Hmac|digest|timingSafeEqual)$/.test(f) },
  { label: "base58 decode", test: (_f, u) => /@scure\/base/.test(u) },
  { label: "Headers", test: (f) => f === "Headers" },
  { label: "verifier (core verify/*)", test: (_f, u) => /packages\/core\/src\/verify\//.test(u) },
  { label: "garbage collector", test: (f) => f === "(garbage collector)" },
];

/** `lastMs`: only the samples of the final lastMs milliseconds (the load phase, not start-up). */
export function summarise(path: string, topN = 15, lastMs = Infinity): ProfileSummary {
  const p = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  const from = p.endTime - lastMs * 1000;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from) continue;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || "(anonymous)";
    if (name === "(idle)" || name === "(root)") {
      idle += ms;
      continue;
    }
    const key = url ? `${name} ${short(url)}:${lineNumber + 1}` : name;
    frames.set(key, (frames.get(key) ?? 0) + ms);
    const a = area(url, name);
    areas.set(a, (areas.get(a) ?? 0) + ms);
    // inclusive: count this sample once per label found anywhere on its stack
    const hit = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      for (const inc of INCLUSIVE) if (!hit.has(inc.label) && inc.test(f.functionName, f.url)) hit.add(inc.label);
    }
    for (const l of hit) inclusive.set(l, (inclusive.get(l) ?? 0) + ms);
  }
  const busy = total - idle;
  const pct = (ms: number) => round((100 * ms) / busy, 1);
  return {
    totalMs: round(total, 0),
    busyMs: round(busy, 0),
    top: [...frames]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([frame, ms]) => ({ frame, selfMs: round(ms, 1), selfPct: pct(ms) })),
    byArea: [...areas]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([a, ms]) => ({ area: a, selfMs: round(ms, 1), pct: pct(ms) })),
    inclusive: INCLUSIVE.map((i) => ({ label: i.label, ms: round(inclusive.get(i.label) ?? 0, 1), pct: pct(inclusive.get(i.label) ?? 0) })),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [`busy ${s.busyMs} ms of ${s.totalMs} ms sampled`, "", "| # | self % | self ms | frame |", "| ---: | ---: | ---: | --- |"];
  s.top.forEach((f, i) => lines.push(`| ${i + 1} | ${f.selfPct} | ${f.selfMs} | \`${f.frame}\` |`));
  lines.push("", "| area (self time) | % |", "| --- | ---: |");
  for (const a of s.byArea) lines.push(`| ${a.area} | ${a.pct} |`);
  lines.push("", "| inclusive | % of busy |", "| --- | ---: |");
  for (const i of s.inclusive) lines.push(`| ${i.label} | ${i.pct} |`);
  return lines.join("\n");
}

// CLI: node --import tsx bench/profile-summary.ts <file.cpuprofile> [--top 15]
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "15" }, last: { type: "string" } } });
  if (!positionals[0]) throw new Error("usage: profile-summary.ts <file.cpuprofile> [--top N] [--last <ms>]");
  process.stdout.write(`${formatSummary(summarise(positionals[0], Number(values.top), values.last ? Number(values.last) : Infinity))}\n`);
}
