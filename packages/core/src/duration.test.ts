import { describe, expect, it } from "vitest";
import { parseDuration, parseProtoDurationSeconds, formatDurationMs, formatGoDuration } from "./duration.js";

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
