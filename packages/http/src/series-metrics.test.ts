import { AggregatorRegistry, Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { SeriesCounter, SeriesHistogram } from "./series-metrics.js";

/** exposition lines as a set, label order normalised */
function lines(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => {
      const m = /^([^{ ]+)(?:\{(.*)\})? (.*)$/.exec(l)!;
      const labels = (m[2] ?? "").split(/,(?=[a-z_]+=)/).filter(Boolean).sort().join(",");
      return `${m[1]}{${labels}} ${m[3]}`;
    })
    .sort();
}

describe("SeriesHistogram", () => {
  const buckets = [0.001, 0.01, 0.1, 1];
  const observations: [Record<string, string>, number][] = [
    [{ method: "POST", route: "/a" }, 0.0005],
    [{ method: "POST", route: "/a" }, 0.001],
    [{ method: "POST", route: "/a" }, 0.05],
    [{ method: "POST", route: "/a" }, 7],
    [{ method: "GET", route: "/b" }, 0.2],
  ];

  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const h = new SeriesHistogram("req_seconds", "latency", buckets, ours);
    const ref = new Histogram({ name: "req_seconds", help: "latency", labelNames: ["method", "route"], buckets, registers: [theirs] });
    for (const [labels, v] of observations) {
      h.series(labels).observe(v);
      ref.observe(labels, v);
    }
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
    expect(await ours.metrics()).toContain("# TYPE req_seconds histogram");
  });

  it("keeps one series per label set and counts values above the last bucket only in +Inf", async () => {
    const reg = new Registry();
    const h = new SeriesHistogram("x_seconds", "x", buckets, reg);
    expect(h.series({ route: "/a" })).toBe(h.series({ route: "/a" }));
    h.series({ route: "/a" }).observe(5);
    const text = await reg.metrics();
    expect(text).toContain('x_seconds_bucket{route="/a",le="1"} 0');
    expect(text).toContain('x_seconds_bucket{route="/a",le="+Inf"} 1');
    expect(text).toContain('x_seconds_count{route="/a"} 1');
    expect(text).toContain('x_seconds_sum{route="/a"} 5');
  });

  it("sums across processes the way a cluster primary aggregates worker registries", async () => {
    const a = new Registry();
    const b = new Registry();
    new SeriesHistogram("y_seconds", "y", buckets, a).series({ route: "/a" }).observe(0.005);
    new SeriesHistogram("y_seconds", "y", buckets, b).series({ route: "/a" }).observe(0.5);
    const sum = AggregatorRegistry.aggregate([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]);
    const text = await sum.metrics();
    expect(text).toContain('y_seconds_bucket{route="/a",le="0.01"} 1');
    expect(text).toContain('y_seconds_bucket{route="/a",le="1"} 2');
    expect(text).toContain('y_seconds_count{route="/a"} 2');
    expect(text).toContain('y_seconds_sum{route="/a"} 0.505');
  });
});

describe("SeriesCounter", () => {
  it("exposes exactly what prom-client's Counter exposes for the same increments", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const c = new SeriesCounter("hits_total", "hits", ours);
    const ref = new Counter({ name: "hits_total", help: "hits", labelNames: ["result"], registers: [theirs] });
    for (const result of ["hit", "miss", "hit", "hit"]) {
      c.series({ result }).inc();
      ref.inc({ result });
    }
    expect(lines(await ours.metrics())).toEqual(lines(await theirs.metrics()));
    expect(await ours.metrics()).toContain('hits_total{result="hit"} 3');
  });
});
