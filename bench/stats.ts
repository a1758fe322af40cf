/** Percentiles over raw latency samples (ms). */
export function percentiles(samples: Float64Array, n: number): { p50: number; p99: number; max: number; mean: number } {
  if (n === 0) return { p50: 0, p99: 0, max: 0, mean: 0 };
  const s = samples.slice(0, n).sort();
  const at = (q: number) => s[Math.min(n - 1, Math.floor(q * n))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  return { p50: at(0.5), p99: at(0.99), max: s[n - 1]!, mean: sum / n };
}

export const round = (x: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
