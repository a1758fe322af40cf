import { describe, expect, it } from "vitest";
import { MetricsSampler, rates, shares, type MetricJson, type Totals } from "./sampler.js";

const t = (at: number, valid: number, limited: number, hit: number, miss: number): Totals => ({
  at,
  verifications: { valid, rate_limited: limited },
  cache: { hit, miss, skip: 100 },
  limiter: {},
});

describe("overview series", () => {
  const samples = [t(0, 0, 0, 0, 0), t(10_000, 100, 0, 90, 10), t(20_000, 300, 100, 90, 110)];

  it("rates are per second between samples", () => {
    expect(rates(samples, (x) => x.verifications, ["valid"])).toEqual([
      { t: 10_000, v: 10 },
      { t: 20_000, v: 20 },
    ]);
  });

  it("shares are of the whole group's increase, 0 when idle", () => {
    expect(shares(samples, (x) => ({ hit: x.cache.hit ?? 0, miss: x.cache.miss ?? 0 }), ["hit"]).map((p) => p.v)).toEqual([0.9, 0]);
    expect(shares(samples, (x) => x.verifications, ["rate_limited"]).map((p) => p.v)).toEqual([0, 100 / 300]);
  });

  it("a counter reset (restart) never charts a negative rate", () => {
    expect(rates([t(0, 50, 0, 0, 0), t(10_000, 10, 0, 0, 0)], (x) => x.verifications, ["valid"])[0]!.v).toBe(0);
  });

  it("the sampler sums the registry's series by label", async () => {
    let n = 0;
    const source = async (): Promise<MetricJson[]> => [
      {
        name: "talos_verifications_total",
        values: [
          { labels: { credential_type: "issued", result: "valid" }, value: 5 + n },
          { labels: { credential_type: "jwt", result: "valid" }, value: 1 },
        ],
      },
    ];
    let now = 0;
    const sampler = new MetricsSampler(source, () => now);
    await sampler.sample();
    n = 10;
    now = 10_000;
    const series = await sampler.series();
    expect(series.map((x) => x.verifications.valid)).toEqual([6, 16]);
    expect(rates(series, (x) => x.verifications, ["valid"])).toEqual([{ t: 10_000, v: 1 }]);
  });
});
