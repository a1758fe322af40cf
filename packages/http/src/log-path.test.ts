import { describe, expect, it } from "vitest";
import { createPathRedactor } from "./log-path.js";
import type { RouteDef } from "./router.js";

const route = (path: string): RouteDef => ({ method: "GET", path, responses: {}, handler: () => new Response() });
const redact = createPathRedactor(
  ["/v2alpha1/admin/issuedApiKeys/{key_id}", "/v2alpha1/admin/apiKeys/{key_id}:revoke", "/v2alpha1/admin/apiKeys:verify", "/health/alive"].map(route),
);

describe("createPathRedactor", () => {
  it("keeps route literals and key-id shaped segments", () => {
    expect(redact("/v2alpha1/admin/issuedApiKeys/3F2C9A4E-8b1d-4c7e-9f00-1a2b3c4d5e6f")).toBe("/v2alpha1/admin/issuedApiKeys/3F2C9A4E-8b1d-4c7e-9f00-1a2b3c4d5e6f");
    const hex = "5c307a51521d853fb92610f351eff76d1aeec225a7cbdc8ec4f7558b09594648";
    expect(redact(`/v2alpha1/admin/apiKeys/${hex}:revoke`)).toBe(`/v2alpha1/admin/apiKeys/${hex}:revoke`);
    expect(redact("/v2alpha1/admin/apiKeys%3Averify")).toBe("/v2alpha1/admin/apiKeys%3Averify");
    expect(redact("/health/alive/")).toBe("/health/alive/");
    expect(redact("/v2alpha1/../nope")).toBe("/v2alpha1/../*");
  });

  it("replaces anything else (secrets pasted into URLs, unknown words, bad escapes) by *", () => {
    const secret = "ory_ak_v1_Qixkm4LLsreXThDin1PMp9sWK4x6LUoqCmkeLVEqBFS2B8YTHGnSV2U6GHuMLoWd_9EqeTSRe7bcCsfm5SdpUkfJCio1NU9TaVQFWXiumh6DZ";
    expect(redact(`/v2alpha1/admin/issuedApiKeys/${secret}`)).toBe("/v2alpha1/admin/issuedApiKeys/*");
    expect(redact(`/v2alpha1/admin/apiKeys/sk_live_example_0001:revoke`)).toBe("/v2alpha1/admin/apiKeys/*");
    expect(redact("/wp-admin/setup.php")).toBe("/*/*");
    expect(redact("/v2alpha1/%zz/x")).toBe("/v2alpha1/*/*");
    expect(redact(`/v2alpha1/admin/issuedApiKeys/${"g".repeat(64)}`)).toBe("/v2alpha1/admin/issuedApiKeys/*"); // 64 chars, not hex
  });
});
