import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./load.js";

const ENV = { TALOS_SECRETS_HMAC_CURRENT: "x".repeat(32), TALOS_CREDENTIALS_ISSUER: "https://api.example.com", TALOS_DB_DSN: "memory" };

function issuesOf(env: Record<string, string>): string[] {
  try {
    loadConfig({ env: { ...ENV, ...env } });
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  return [];
}

describe("tracing.* and usage.* (docs/observability.md)", () => {
  it("reads a fractional sample rate, an endpoint and a retention from the environment", () => {
    const { config } = loadConfig({
      env: {
        ...ENV,
        TALOS_TRACING_ENABLED: "true",
        TALOS_TRACING_SAMPLE_RATE: "0.25",
        TALOS_TRACING_ENDPOINT: "collector:4318",
        TALOS_USAGE_RETENTION: "30d",
      },
    });
    expect(config.tracing).toMatchObject({ enabled: true, sample_rate: 0.25, endpoint: "collector:4318" });
    expect(config.usage.retention).toBe(30 * 86_400_000);
  });

  it.each([
    [{ TALOS_TRACING_SAMPLE_RATE: "1.5" }, "tracing.sample_rate: must be a number between 0 and 1"],
    [{ TALOS_TRACING_SAMPLE_RATE: "-0.1" }, "tracing.sample_rate: must be a number between 0 and 1"],
    [{ TALOS_TRACING_SAMPLE_RATE: "often" }, "tracing.sample_rate: must be a number"],
    [{ TALOS_TRACING_ENDPOINT: "ftp://x" }, "tracing.endpoint: must be an http:// or https:// URL, or host:port"],
    [{ TALOS_TRACING_EXPORTER: "zipkin" }, "tracing.exporter: must be one of: otlp"],
    [{ TALOS_USAGE_RETENTION: "30m" }, "usage.retention:"],
  ])("rejects %o", (env, message) => {
    const issues = issuesOf(env);
    expect(
      issues.some((i) => i.startsWith(message)),
      issues.join("\n"),
    ).toBe(true);
  });
});
