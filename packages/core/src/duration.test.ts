import { describe, expect, it } from "vitest";
import { parseDuration, parseDurationExact, parseProtoDurationSeconds, parseTtl, formatDurationMs, formatGoDuration } from "./duration.js";

describe("parseDuration", () => {
  it.each([
    ["720h", 720 * 3600_000],
    ["1h30m", 5400_000],
    ["1.5h", 5400_000],
    ["3600s", 3600_000],
    ["1.5s", 1500],
    ["30d", 30 * 86400_000],
    ["1y6mo", 365 * 86400_000 + 180 * 86400_000],
    ["2w3d", 17 * 86400_000],
    ["100ms", 100],
    ["250us", 0],
    ["0s", 0],
    ["0", 0],
    ["-5s", -5000],
  ])("%s -> %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "abc", "5", "1h 2m", "h", "1x", "1.2.3s", "--1s"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe("parseDurationExact", () => {
  it("keeps sub-millisecond parts, so a tiny duration is not zero", () => {
    expect(parseDurationExact("1ns")).toBeCloseTo(1e-6, 12);
    expect(parseDurationExact("0.0000000001s")).toBeGreaterThan(0);
    expect(parseDurationExact("-1us")).toBeLessThan(0);
    expect(parseDurationExact("0s")).toBe(0);
    expect(parseDurationExact("0.000ns")).toBe(0);
    expect(parseDurationExact("1.5s")).toBe(1500);
  });
});

describe("parseTtl (docs/wire.md#durations)", () => {
  it.each(["", "0", "0s", "0.0s", "0ns", "-0s"])("%j means use the default", (text) => {
    expect(parseTtl(text)).toEqual({ ms: undefined });
  });
  it.each([
    ["1s", 1000],
    ["1.5s", 1500],
    ["1.0009s", 1000],
    ["315360000s", 315_360_000_000],
    ["10y", 315_360_000_000],
  ])("%j -> %d ms", (text, ms) => {
    expect(parseTtl(text)).toEqual({ ms });
  });
  it.each(["1ns", "100ns", "1us", "1µs", "1μs", "0.0000000001s", "1ms", "999ms", "0.5s", "0.9999999s", "-5s", "315360000.001s"])(
    "%j is out of range (never the default)",
    (text) => {
      expect(parseTtl(text)).toEqual({ error: "must be between 1s and 315360000s" });
    },
  );
  it("names a malformed value", () => {
    expect(parseTtl("soon")).toEqual({ error: 'invalid duration "soon"' });
  });
});

describe("parseProtoDurationSeconds", () => {
  it("accepts whole and fractional seconds, truncating", () => {
    expect(parseProtoDurationSeconds("60s")).toBe(60);
    expect(parseProtoDurationSeconds("1.5s")).toBe(1);
    expect(parseProtoDurationSeconds("-3s")).toBe(-3);
  });
  it.each(["60", "1m", "s", "1.s", " 60s", "1e3s"])("rejects %j", (text) => {
    expect(parseProtoDurationSeconds(text)).toBeNull();
  });
});

describe("formatDurationMs", () => {
  it("prefers the largest whole unit", () => {
    expect(formatDurationMs(8760 * 3600_000)).toBe("8760h");
    expect(formatDurationMs(90_000)).toBe("90s");
    expect(formatDurationMs(120_000)).toBe("2m");
  });
});

describe("formatGoDuration", () => {
  it("prints what Go's time.Duration.String() prints", () => {
    expect(formatGoDuration(8760 * 3600_000)).toBe("8760h0m0s");
    expect(formatGoDuration(13080 * 3600_000)).toBe("13080h0m0s");
    expect(formatGoDuration(3600_000 + 1000)).toBe("1h0m1s");
    expect(formatGoDuration(90_000)).toBe("1m30s");
    expect(formatGoDuration(1500)).toBe("1.5s");
    expect(formatGoDuration(61_050)).toBe("1m1.05s");
    expect(formatGoDuration(500)).toBe("500ms");
    expect(formatGoDuration(0)).toBe("0s");
    expect(formatGoDuration(-90_000)).toBe("-1m30s");
  });
});
