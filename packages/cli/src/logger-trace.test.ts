import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfig } from "@talos/core";
import { createTracing } from "@talos/server";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createLoggers } from "./logger.js";

const dir = mkdtempSync(path.join(tmpdir(), "talos-log-trace-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) => readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);

describe("log lines and traces (docs/observability.md#tracing)", () => {
  it("carry trace_id and span_id inside a sampled span, and nothing extra outside one", async () => {
    const file = path.join(dir, "app.log");
    const { logger, logRequest } = createLoggers({ level: "info", format: "json" }, pino.destination({ dest: file, sync: true }));
    logger.info({ dsn: "x" }, "outside");
    const { config } = loadConfig({
      env: {},
      overrides: { "db.dsn": "memory", "secrets.hmac.current": "s".repeat(32), "credentials.issuer": "https://t", "tracing.enabled": true, "tracing.sample_rate": 1, "tracing.endpoint": "http://127.0.0.1:9" },
    });
    const tracing = createTracing(config.tracing, "test");
    let ids = { traceId: "", spanId: "" };
    tracing.otel.startActiveSpan("work", (span) => {
      logger.info({ key_id: "k" }, "inside");
      logRequest({ method: "GET", route: "/x", path: "/x", status: 200, bytes: 1, duration_ms: 1, request_id: "r" });
      ids = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
      span.end();
    });
    await tracing.shutdown().catch(() => {});
    const [outside, inside, request] = lines(file);
    expect(outside).toMatchObject({ msg: "outside", dsn: "x" });
    expect(outside).not.toHaveProperty("trace_id");
    expect(inside).toMatchObject({ msg: "inside", key_id: "k", trace_id: ids.traceId, span_id: ids.spanId });
    expect(request).toMatchObject({ msg: "HTTP request completed", trace_id: ids.traceId, span_id: ids.spanId });
  });
});
