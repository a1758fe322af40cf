import { Agent, request } from "node:http";
import { percentiles, round } from "./stats.js";

/**
 * An open-loop client at a steady rate, for "p99 at 50% of max load". autocannon's rate limit
 * sends each connection's whole per-second quota at the start of every second and then idles,
 * so half the load arrives as full-load bursts; its histogram also has 1 ms resolution. Here
 * requests go out at an even rate over keep-alive sockets (a 1 ms timer tick sends what is due),
 * latency is measured from the send, with sub-millisecond resolution, and how late the timer
 * sent them is reported apart. Bounded by duration and by a cap on requests in flight.
 */
export interface PacedResult {
  rate: number;
  sent: number;
  completed: number;
  errors: number;
  non2xx: number;
  /** requests not sent because maxInFlight were already waiting (the server fell behind) */
  skipped: number;
  /** how late the client's timer sent requests, p99 (ms) */
  sendLateP99: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export async function paced(opts: {
  url: string;
  rate: number;
  seconds: number;
  connections: number;
  requests: { path: string; body: string }[];
  headers?: Record<string, string>;
}): Promise<PacedResult> {
  const { hostname, port } = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const maxInFlight = opts.connections * 8;
  const total = Math.ceil(opts.rate * opts.seconds);
  const lat = new Float64Array(total);
  const late = new Float64Array(total);
  let n = 0;
  let sent = 0;
  let inFlight = 0;
  let errors = 0;
  let non2xx = 0;
  let skipped = 0;
  const started = performance.now();

  const fire = (scheduledAt: number) => {
    const r = opts.requests[sent % opts.requests.length]!;
    const sentAt = performance.now();
    late[sent] = sentAt - scheduledAt;
    sent++;
    inFlight++;
    const done = (ok: boolean, status = 0) => {
      inFlight--;
      if (!ok) errors++;
      else if (status < 200 || status >= 300) non2xx++;
      else lat[n++] = performance.now() - sentAt;
    };
    const req = request(
      { hostname, port, agent, method: "POST", path: r.path, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(r.body), ...opts.headers } },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => done(true, res.statusCode ?? 0));
        res.on("error", () => done(false));
      },
    );
    req.setTimeout(10_000, () => req.destroy());
    req.on("error", () => done(false));
    req.end(r.body);
  };

  await new Promise<void>((resolve) => {
    const interval = 1000 / opts.rate;
    let next = 0; // index of the next request to schedule
    const tick = () => {
      const now = performance.now() - started;
      while (next < total && next * interval <= now) {
        if (inFlight >= maxInFlight) skipped++;
        else fire(started + next * interval);
        next++;
      }
      if (next >= total) return resolve();
      setTimeout(tick, 1);
    };
    tick();
  });
  // let the last requests finish (bounded)
  for (let i = 0; i < 200 && inFlight > 0; i++) await new Promise((r) => setTimeout(r, 25));
  agent.destroy();
  const elapsed = (performance.now() - started) / 1000;
  const p = percentiles(lat, n);
  return {
    rate: opts.rate,
    sent,
    completed: n,
    errors,
    non2xx,
    skipped,
    sendLateP99: round(percentiles(late, sent).p99, 3),
    rps: round(n / elapsed, 0),
    p50: round(p.p50, 3),
    p99: round(p.p99, 3),
    max: round(p.max, 3),
    mean: round(p.mean, 3),
  };
}
