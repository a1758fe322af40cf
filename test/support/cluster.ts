/**
 * Helpers for talking to several running talos processes at once (cache invalidation, shared rate
 * limits, revocation propagation). Free of vitest imports: bench/revocation-propagation.ts uses it.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { fetchJson, type JsonResponse } from "./process.js";

export const ISSUED_PATH = "/v2alpha1/admin/issuedApiKeys";
export const IMPORTED_PATH = "/v2alpha1/admin/importedApiKeys";
export const VERIFY_PATH = "/v2alpha1/admin/apiKeys:verify";
export const SELF_REVOKE_PATH = "/v2alpha1/apiKeys:selfRevoke";
/** The invalidation channels of docs/verification.md#cache. */
export const PG_CHANNEL = "talos_cache_invalidate";
export const REDIS_CHANNEL = "talos:cache:invalidate";
export const NIL_NID = "00000000-0000-0000-0000-000000000000";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `POST …/apiKeys:verify`; `noCache` sends `Cache-Control: no-cache`. */
export function verifyAt(apiUrl: string, credential: string, opts: { noCache?: boolean } = {}): Promise<JsonResponse> {
  return fetchJson(`${apiUrl}${VERIFY_PATH}`, { body: { credential }, headers: opts.noCache ? { "cache-control": "no-cache" } : {} });
}

/** Issues a key and returns its id and secret; throws with the response on anything but 201. */
export async function issueAt(apiUrl: string, body: Record<string, unknown> = {}): Promise<{ keyId: string; secret: string; res: JsonResponse }> {
  const res = await fetchJson(`${apiUrl}${ISSUED_PATH}`, { body: { name: "cluster", actor_id: "cluster-actor", ...body } });
  if (res.status !== 201) throw new Error(`issue failed: ${res.status} ${res.text}`);
  return { keyId: res.body.issued_api_key.key_id as string, secret: res.body.secret as string, res };
}

/** Verifies until the answer is a cache HIT (at most `tries` calls); returns the last response. */
export async function warm(apiUrl: string, credential: string, tries = 3): Promise<JsonResponse> {
  let r!: JsonResponse;
  for (let i = 0; i < tries; i++) {
    r = await verifyAt(apiUrl, credential);
    if (r.headers.get("ory-talos-cache") === "HIT") return r;
  }
  return r;
}

/**
 * Calls `probe` every `everyMs` until it returns true; resolves with the ms elapsed since `since`
 * (default: the call) when it does, or null once `limitMs` have passed.
 */
export async function pollUntil(probe: () => Promise<boolean>, limitMs: number, everyMs = 5, since = performance.now()): Promise<number | null> {
  for (;;) {
    if (await probe()) return performance.now() - since;
    if (performance.now() - since > limitMs) return null;
    await sleep(everyMs);
  }
}

/** Value of one Prometheus sample (`name{labels}`), summed over series whose labels include `labels`; 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...(m[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

/**
 * Local TCP ports of the established connections process `pid` holds to `remotePort` (Linux:
 * /proc/<pid>/fd socket inodes joined with /proc/net/tcp{,6}). Lets a test find, say, one
 * server's Redis connections among everybody's in `CLIENT LIST`.
 */
export function localPortsTo(pid: number, remotePort: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // the fd closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "01" || !inodes.has(f[9]!)) continue; // 01 = ESTABLISHED
      const local = parseInt(f[1]!.split(":")[1]!, 16);
      const remote = parseInt(f[2]!.split(":")[1]!, 16);
      if (remote === remotePort) ports.push(local);
    }
  }
  return ports;
}

/** Median, p90 and max of a list of numbers (ms), rounded to 0.1 ms. */
export function summarize(xs: number[]): { n: number; median: number; p90: number; max: number; min: number; mean: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    median: r(s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2),
    p90: r(at(0.9)),
    max: r(s[s.length - 1] ?? NaN),
    min: r(s[0] ?? NaN),
    mean: r(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}
