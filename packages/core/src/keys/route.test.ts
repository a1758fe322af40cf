import { describe, expect, it } from "vitest";
import { mintIssuedKey } from "./issued-key.js";
import { routeCredential } from "./route.js";

const FULL_KEY =
  "ory_ak_v1_Qixkm4LLsreXThDin1PMp9sWK4x6LUoqCmkeLVEqBFS2B8YTHGnSV2U6GHuMLoWd_9EqeTSRe7bcCsfm5SdpUkfJCio1NU9TaVQFWXiumh6DZ";
const JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
const opts = { macaroonPrefixes: ["mc", "old_mc"] };

describe("routeCredential", () => {
  it("routes JWTs first", () => {
    expect(routeCredential(JWT, opts)).toEqual({ type: "jwt" });
  });

  it.each([
    "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0",
    "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.",
    "eyJ.a.b.c",
    "eyJa.b.c=",
    "xeyJa.b.c",
    "eyJa.b.c\n",
  ])("does not take %j for a JWT", (credential) => {
    expect(routeCredential(credential, opts).type).toBe("imported");
  });

  it("routes macaroons by current and retired prefix", () => {
    expect(routeCredential("mc_v1_AgEEdGVzdA", opts)).toEqual({ type: "macaroon", prefix: "mc" });
    expect(routeCredential("old_mc_v1_AgEEdGVzdA", opts)).toEqual({ type: "macaroon", prefix: "old_mc" });
    expect(routeCredential("mc_v1_", opts)).toEqual({ type: "macaroon", prefix: "mc" });
  });

  it("does not route unknown macaroon prefixes or versions as macaroons", () => {
    expect(routeCredential("xx_v1_AgEEdGVzdA", opts).type).toBe("imported");
    expect(routeCredential("mc_v2_AgEEdGVzdA", opts).type).toBe("imported");
    expect(routeCredential("mcv1_AgEEdGVzdA", opts).type).toBe("imported");
    expect(routeCredential("mc", opts).type).toBe("imported");
    expect(routeCredential("mc_v1_AgEEdGVzdA", { macaroonPrefixes: [] }).type).toBe("imported");
  });

  it("gives macaroons precedence over an issued key with the same prefix", () => {
    const key = mintIssuedKey({ prefix: "mc", secret: "s".repeat(32), keyId: "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f", unixSeconds: 1767225600 });
    expect(routeCredential(key, opts).type).toBe("macaroon");
    expect(routeCredential(key, { macaroonPrefixes: ["other"] }).type).toBe("issued");
  });

  it("routes issued keys with their parsed parts", () => {
    const route = routeCredential(FULL_KEY, opts);
    expect(route.type).toBe("issued");
    if (route.type === "issued") {
      expect(route.parsed.keyId).toBe("3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f");
      expect(route.parsed.prefix).toBe("ory_ak");
    }
  });

  it("routes an issued key with an unconfigured prefix as issued (rejected later, not hashed)", () => {
    expect(routeCredential(FULL_KEY.replace("ory_ak", "zz_zz"), opts).type).toBe("issued");
  });

  it.each(["sk_live_example_0001", "foo_v1_abc_def", "", " ", "ключ", "a".repeat(8192), `${FULL_KEY} `])(
    "routes everything else as imported (%#)",
    (credential) => {
      expect(routeCredential(credential, opts)).toEqual({ type: "imported" });
    },
  );
});
