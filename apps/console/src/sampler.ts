/** prom-client's getMetricsAsJSON() shape, as far as the overview reads it. */
export interface MetricJson {
  name: string;
  values: { labels: Partial<Record<string, string | number>>; value: number; metricName?: string }[];
}
export type MetricsSource = () => Promise<MetricJson[]>;

/** The counters the overview charts, summed by one label. */
export interface Totals {
  at: number;
  verifications: Record<string, number>;
  cache: Record<string, number>;
  limiter: Record<string, number>;
}

export const SAMPLE_EVERY_MS = 10_000;
/** one hour of samples */
export const SAMPLES = 360;

function sumBy(metrics: MetricJson[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of metrics.find((m) => m.name === name)?.values ?? []) {
    const k = String(v.labels[label] ?? "");
    out[k] = (out[k] ?? 0) + v.value;
  }
  return out;
}

/**
 * The counters the overview reads, and all a metrics source needs to collect: a whole registry
 * read would also run the collectors that query the database (readiness, the outbox's backlog).
 */
export const CHARTED_METRICS = ["talos_verifications_total", "talos_verification_cache_total", "talos_rate_limit_decisions_total"] as const;

export async function readTotals(source: MetricsSource, at: number): Promise<Totals> {
  const m = await source();
  const [verifications, cache, limiter] = CHARTED_METRICS;
  return {
    at,
    verifications: sumBy(m, verifications, "result"),
    cache: sumBy(m, cache, "result"),
    limiter: sumBy(m, limiter, "decision"),
  };
}

/**
 * Keeps the last hour of counter totals, sampled from the process's own metrics registry every
 * 10 s, so the overview can chart rates without a Prometheus server. The timer does not keep the
 * process alive.
 */
export class MetricsSampler {
  readonly #samples: Totals[] = [];
  #timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly source: MetricsSource,
    private readonly clock: () => number,
  ) {}

  start(): void {
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), SAMPLE_EVERY_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async sample(): Promise<void> {
    try {
      this.#samples.push(await readTotals(this.source, this.clock()));
      if (this.#samples.length > SAMPLES + 1) this.#samples.shift();
    } catch {
      // a failed read leaves a gap in the chart, nothing more
    }
  }

  /** The samples so far plus a fresh reading of now (the chart's right edge). */
  async series(): Promise<Totals[]> {
    return [...this.#samples, await readTotals(this.source, this.clock())];
  }
}

export interface Point {
  t: number;
  v: number;
}

/** Per-second rates between consecutive samples of one counter group. */
export function rates(samples: Totals[], pick: (t: Totals) => Record<string, number>, keys: string[]): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = (b.at - a.at) / 1000;
    if (dt <= 0) continue;
    const sum = (t: Totals) => keys.reduce((n, k) => n + (pick(t)[k] ?? 0), 0);
    out.push({ t: b.at, v: Math.max(0, sum(b) - sum(a)) / dt });
  }
  return out;
}

/** Share of `part` in `whole` between consecutive samples (0 when nothing happened). */
export function shares(samples: Totals[], pick: (t: Totals) => Record<string, number>, part: string[]): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = pick(samples[i - 1]!);
    const b = pick(samples[i]!);
    const delta = (keys: string[]) => keys.reduce((n, k) => n + (b[k] ?? 0) - (a[k] ?? 0), 0);
    const whole = delta([...new Set([...Object.keys(a), ...Object.keys(b)])]);
    out.push({ t: samples[i]!.at, v: whole > 0 ? delta(part) / whole : 0 });
  }
  return out;
}
