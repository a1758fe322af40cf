import { describe, expect, it } from "vitest";
import { tracesUrl } from "./tracing.js";

describe("tracesUrl (tracing.endpoint)", () => {
  it.each([
    ["http://collector:4318", "http://collector:4318/v1/traces"],
    ["https://collector.example/", "https://collector.example/v1/traces"],
    ["collector:4318", "http://collector:4318/v1/traces"],
    ["http://tempo:4318/otlp/v1/traces", "http://tempo:4318/otlp/v1/traces"],
  ])("%s -> %s", (endpoint, url) => expect(tracesUrl(endpoint)).toBe(url));
});
