import type { Registry } from "prom-client";

/** One labelled series: observe() is a bucket search and three additions. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (value <= b[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A Prometheus histogram whose series are resolved once and then observed directly. prom-client's
 * Histogram validates and hashes the labels on every observation, even through labels(): three of
 * those per request were a measurable share of a cache-warm verify. It registers as a prom-client
 * metric, so the registry formats it and a cluster primary sums it like any other.
 */
export class SeriesHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The series for these label values (created on first use). */
  series(labels: Record<string, string>): HistogramSeries {
    const key = JSON.stringify(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = new HistogramSeries({ ...labels }, this.bounds);
      this.#series.set(key, s);
    }
    return s;
  }

  /** prom-client's metric interface: cumulative buckets, +Inf, sum and count per series. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = [];
    for (const s of this.#series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: acc });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}

/** One labelled counter series. */
export class CounterSeries {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}
  inc(): void {
    this.value++;
  }
}

/** A Prometheus counter with pre-resolved series, for the per-request counters (see SeriesHistogram). */
export class SeriesCounter {
  readonly type = "counter";
  readonly aggregator = "sum";
  readonly #series = new Map<string, CounterSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  series(labels: Record<string, string>): CounterSeries {
    const key = JSON.stringify(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = new CounterSeries({ ...labels });
      this.#series.set(key, s);
    }
    return s;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string>; value: number }[] } {
    const values = [...this.#series.values()].map((s) => ({ labels: { ...s.labels }, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}
