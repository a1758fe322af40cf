import { validateHeaderValue } from "node:http";
import { describe, expect, it } from "vitest";
import { bareFailure, VerificationError, type Verification } from "@talos/core";
import { verificationHeaders } from "./verification.js";

const withUnit = (unit: string): Verification => ({
  ...bareFailure(VerificationError.UNSPECIFIED, "issued"),
  policyHeader: { quota: 5, windowSeconds: 60, unit },
});
const policyOf = (unit: string) => verificationHeaders(withUnit(unit), 0)["RateLimit-Policy"];

describe("RateLimit-Policy header (docs/verification.md#rate-limit-headers)", () => {
  it("echoes a unit other than requests as qu", () => {
    expect(policyOf("")).toBe('"default";q=5;w=60');
    expect(policyOf("requests")).toBe('"default";q=5;w=60');
    expect(policyOf("content-bytes")).toBe('"default";q=5;w=60;qu="content-bytes"');
  });

  it("a unit stored before input was restricted stays inside its quoted string (no injected parameters)", () => {
    expect(policyOf('x";q=1000000;w=1')).toBe('"default";q=5;w=60;qu="x\\";q=1000000;w=1"');
    expect(policyOf("back\\slash")).toBe('"default";q=5;w=60;qu="back\\\\slash"');
    expect(policyOf("with space")).toBe('"default";q=5;w=60;qu="with space"');
  });

  it.each(["a\r\nX-Injected: 1", "line\nfeed", "€uro", "nul\u0000", "tab\t", "\u00e9"])(
    "a stored unit a quoted string cannot carry (%j) is left out, so the header is always writable",
    (unit) => {
      const value = policyOf(unit)!;
      expect(value).toBe('"default";q=5;w=60');
      expect(() => validateHeaderValue("RateLimit-Policy", value)).not.toThrow();
    },
  );
});
