import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

describe("CORS (serve.http.cors)", () => {
  let on: TestServer;
  let off: TestServer;
  beforeAll(async () => {
    on = await startTestServer({
      overrides: {
        "serve.http.cors.enabled": true,
        "serve.http.cors.allowed_origins": ["https://console.example.com"],
        "serve.http.cors.exposed_headers": ["Ory-Talos-Cache"],
        "serve.http.cors.max_age": 600,
      },
    });
    off = await startTestServer();
  });
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });

  it("answers a preflight from an allowed origin with the configured methods, headers and max age", async () => {
    const r = await on.request("OPTIONS", "/v2alpha1/admin/apiKeys:verify", undefined, {
      Origin: "https://console.example.com",
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "Content-Type",
    });
    expect(r.status).toBe(204);
    expect(r.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
    expect(r.headers.get("access-control-allow-methods")).toContain("POST");
    expect(r.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("content-type");
    expect(r.headers.get("access-control-max-age")).toBe("600");
  });

  it("exposes the configured headers on actual requests and ignores other origins", async () => {
    const ok = await on.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: "x" }, { Origin: "https://console.example.com" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
    expect(ok.headers.get("access-control-expose-headers")).toBe("Ory-Talos-Cache");
    const other = await on.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: "x" }, { Origin: "https://evil.example" });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("sends no CORS headers when disabled (the default)", async () => {
    const r = await off.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: "x" }, { Origin: "https://console.example.com" });
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
  });
});
