import { describe, expect, it } from "vitest";
import { hostKey } from "./host-router.js";

describe("hostKey: Host as networks are matched", () => {
  it("lower-cases, strips the port and takes the first forwarded entry", () => {
    expect(hostKey("A.Example.COM")).toBe("a.example.com");
    expect(hostKey("a.example.com:8443")).toBe("a.example.com");
    expect(hostKey("a.example.com, proxy.internal:80")).toBe("a.example.com");
    expect(hostKey(" b.example.com ")).toBe("b.example.com");
    expect(hostKey("[::1]:4420")).toBe("[::1]");
    expect(hostKey("10.0.0.1:80")).toBe("10.0.0.1");
    expect(hostKey(undefined)).toBe("");
    expect(hostKey("")).toBe("");
  });
});
