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
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A Prometheus metric whose series are resolved once and then updated directly. prom-client
 * validates and hashes the labels on every observe/inc, even through labels(): six of those per
 * request were a measurable share of a cache-warm verify. It registers as a prom-client metric,
 * so the registry formats it and a cluster primary sums it like any other.
 */
abstract class SeriesMetric<S extends { labels: Readonly<Record<string, string>> }> {
  readonly aggregator = "sum";
  abstract readonly type: string;
  readonly #series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  protected abstract create(labels: Readonly<Record<string, string>>): S;
  protected abstract samples(s: S): Sample[];

  /** The series for these label values (created on first use). */
  series(labels: Record<string, string>): S {
    const key = JSON.stringify(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = this.create({ ...labels });
      this.#series.set(key, s);
    }
    return s;
  }

  /** prom-client's metric interface. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values = [...this.#series.values()].flatMap((s) => this.samples(s));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}

/** A histogram: cumulative buckets, +Inf, sum and count per series. */
export class SeriesHistogram extends SeriesMetric<HistogramSeries> {
  readonly type = "histogram";

  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, registry);
  }

  protected create(labels: Readonly<Record<string, string>>): HistogramSeries {
    return new HistogramSeries(labels, this.bounds);
  }

  protected samples(s: HistogramSeries): Sample[] {
    let acc = 0;
    const out: Sample[] = this.bounds.map((le, i) => {
      acc += s.counts[i]!;
      return { metricName: `${this.name}_bucket`, labels: { ...s.labels, le }, value: acc };
    });
    out.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: s.count });
    out.push({ metricName: `${this.name}_sum`, labels: { ...s.labels }, value: s.sum });
    out.push({ metricName: `${this.name}_count`, labels: { ...s.labels }, value: s.count });
    return out;
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

/** A counter, for the per-request counters. */
export class SeriesCounter extends SeriesMetric<CounterSeries> {
  readonly type = "counter";

  protected create(labels: Readonly<Record<string, string>>): CounterSeries {
    return new CounterSeries(labels);
  }

  protected samples(s: CounterSeries): Sample[] {
    return [{ labels: { ...s.labels }, value: s.value }];
  }
}
