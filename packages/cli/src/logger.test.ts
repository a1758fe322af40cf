import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createLoggers, gatherLines, isoNow, type RequestLine } from "./logger.js";

const dir = mkdtempSync(path.join(tmpdir(), "talos-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function linesOf(file: string): Record<string, unknown>[] {
  return readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("request log line", () => {
  const line: RequestLine = {
    method: "POST",
    route: "/v2alpha1/admin/apiKeys:verify",
    path: "/v2alpha1/admin/apiKeys:verify",
    status: 200,
    bytes: 384,
    duration_ms: 0.123,
    // a client-chosen request id may hold quotes and backslashes (visible ASCII)
    request_id: `abc"\\}{,x`,
  };

  it("is the line pino writes for the same record, field for field", () => {
    const ours = path.join(dir, "ours.log");
    const theirs = path.join(dir, "pino.log");
    const { logRequest } = createLoggers({ level: "info", format: "json" }, pino.destination({ dest: ours, sync: true }));
    logRequest(line);
    const reference = pino(
      { level: "info", base: { service: "talos" }, timestamp: pino.stdTimeFunctions.isoTime },
      pino.destination({ dest: theirs, sync: true }),
    );
    reference.info(line, "HTTP request completed");
    const [a] = linesOf(ours);
    const [b] = linesOf(theirs);
    expect(typeof a!.time).toBe("string");
    expect(Date.parse(a!.time as string)).not.toBeNaN();
    expect(Object.keys(a!)).toEqual(Object.keys(b!));
    expect({ ...a, time: 0 }).toEqual({ ...b, time: 0 });
    expect(a!.request_id).toBe(line.request_id);
  });

  it("writes nothing when the level is above info", () => {
    const file = path.join(dir, "warn.log");
    const { logger, logRequest } = createLoggers({ level: "warn", format: "json" }, pino.destination({ dest: file, sync: true }));
    logRequest(line);
    logger.warn({}, "marker");
    const lines = linesOf(file);
    expect(lines.map((l) => l.msg)).toEqual(["marker"]);
  });
});

describe("isoNow", () => {
  it("formats as toISOString does, across millisecond, second and day boundaries and before 1970", () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 59, 990);
    const times = [0, -1, -999, -1000, -1001, 1, 9, 10, 99, 100, 999, 1000, 8.64e15, -8.64e15];
    for (let i = 0; i < 40; i++) times.push(base + i, base - 1000 + i);
    for (const t of times) expect(isoNow(t)).toBe(new Date(t).toISOString());
    // the cached prefix follows the clock back as well
    expect(isoNow(base + 20)).toBe(new Date(base + 20).toISOString());
    expect(isoNow(base - 5)).toBe(new Date(base - 5).toISOString());
  });
});

describe("gatherLines", () => {
  it("hands lines over in batches, in order, and flushSync and flush leave none behind", async () => {
    const file = path.join(dir, "gathered.log");
    const dest = pino.destination({ dest: file, sync: false, minLength: 4096 });
    await new Promise((r) => dest.once("ready", r));
    gatherLines(dest, 200);
    const lines = Array.from({ length: 25 }, (_, i) => `{"n":${i},"pad":"${"x".repeat(i * 3)}"}\n`);
    for (const l of lines.slice(0, 20)) dest.write(l);
    dest.flushSync();
    expect(readFileSync(file, "utf8")).toBe(lines.slice(0, 20).join(""));
    for (const l of lines.slice(20)) dest.write(l);
    await new Promise<void>((resolve, reject) => dest.flush((err) => (err ? reject(err) : resolve())));
    expect(readFileSync(file, "utf8")).toBe(lines.join(""));
    dest.end();
  });
});
