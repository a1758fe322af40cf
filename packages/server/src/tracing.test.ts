import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { loadConfig } from "@talos/core";
import { createTracing, tracesUrl } from "./tracing.js";

describe("tracesUrl (tracing.endpoint)", () => {
  it.each([
    ["http://collector:4318", "http://collector:4318/v1/traces"],
    ["https://collector.example/", "https://collector.example/v1/traces"],
    ["collector:4318", "http://collector:4318/v1/traces"],
    ["http://tempo:4318/otlp/v1/traces", "http://tempo:4318/otlp/v1/traces"],
  ])("%s -> %s", (endpoint, url) => expect(tracesUrl(endpoint)).toBe(url));
});

describe("a collector that refuses the export", () => {
  it("is reported as one warning (not one per batch), without the collector's answer", async () => {
    let posts = 0;
    const collector = createServer((req, res) => {
      req.resume();
      posts++;
      res.writeHead(400, { "content-type": "text/plain" }).end("collector says: secret-looking detail");
    });
    await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const { config } = loadConfig({
      env: {},
      overrides: {
        "db.dsn": "memory",
        "secrets.hmac.current": "s".repeat(32),
        "credentials.issuer": "https://t",
        "tracing.enabled": true,
        "tracing.sample_rate": 1,
        "tracing.endpoint": endpoint,
      },
    });
    const warnings: [object, string | undefined][] = [];
    const logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (o: object, m?: string) => void warnings.push([o, m]) };
    const tracing = createTracing(config.tracing, "test", logger);
    try {
      for (let i = 0; i < 2; i++) {
        tracing.otel.startSpan(`batch-${i}`).end();
        await tracing.flush().catch(() => {}); // rejects with the export error as well
      }
      expect(posts).toBe(2);
      expect(warnings).toHaveLength(1);
      const [fields, msg] = warnings[0]!;
      expect(msg).toBe("tracing: exporting spans failed; they are dropped");
      expect(fields).toMatchObject({ endpoint: `${endpoint}/v1/traces`, spans: 1 });
      expect(JSON.stringify(fields)).not.toContain("secret-looking");
    } finally {
      await tracing.shutdown().catch(() => {});
      collector.close();
    }
  });
});
