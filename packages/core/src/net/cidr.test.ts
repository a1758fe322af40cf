import { BlockList } from "node:net";
import { describe, expect, it } from "vitest";
import type { ClientIpSource } from "../config/types.js";
import { compileCidrs, ipInCidrs, parseCidr, parseIp, resolveClientIp, type Cidr, type ParsedIp } from "./cidr.js";

const ip = (text: string): ParsedIp => {
  const p = parseIp(text);
  if (!p) throw new Error(`expected ${text} to parse`);
  return p;
};
const cidr = (text: string): Cidr => {
  const c = parseCidr(text);
  if (!c) throw new Error(`expected ${text} to parse`);
  return c;
};
const inside = (addr: string, ...nets: string[]): boolean => ipInCidrs(ip(addr), nets.map(cidr));
const hexWords = (p: ParsedIp): string[] => Array.from(p.words, (w) => (w >>> 0).toString(16).padStart(8, "0"));

describe("parseIp", () => {
  it.each([
    ["1.2.3.4", 4, "1.2.3.4"],
    ["0.0.0.0", 4, "0.0.0.0"],
    ["255.255.255.255", 4, "255.255.255.255"],
    ["::ffff:1.2.3.4", 4, "1.2.3.4"],
    ["::FFFF:10.0.0.1", 4, "10.0.0.1"],
    ["::ffff:0a00:0001", 4, "10.0.0.1"],
    ["0:0:0:0:0:ffff:c0a8:0101", 4, "192.168.1.1"],
    ["[::ffff:1.2.3.4]", 4, "1.2.3.4"],
    ["::1", 6, "::1"],
    ["[::1]", 6, "::1"],
    ["2001:DB8::1", 6, "2001:db8::1"],
    ["fe80::1%eth0", 6, "fe80::1"],
    ["[fe80::1%25]", 6, "fe80::1"],
    ["::", 6, "::"],
    ["::1.2.3.4", 6, "::1.2.3.4"],
  ])("parses %s", (text, family, normalised) => {
    const p = ip(text);
    expect(p.family).toBe(family);
    expect(p.text).toBe(normalised);
  });

  it("packs addresses into big-endian words", () => {
    expect(hexWords(ip("192.168.1.255"))).toEqual(["c0a801ff"]);
    expect(hexWords(ip("2001:db8::ff00:42:8329"))).toEqual(["20010db8", "00000000", "0000ff00", "00428329"]);
    expect(hexWords(ip("1:2:3:4:5:6:7:8"))).toEqual(["00010002", "00030004", "00050006", "00070008"]);
    expect(hexWords(ip("1::"))).toEqual(["00010000", "00000000", "00000000", "00000000"]);
    expect(hexWords(ip("::2:3"))).toEqual(["00000000", "00000000", "00000000", "00020003"]);
    expect(hexWords(ip("1:2:3:4:5:6:1.2.3.4"))).toEqual(["00010002", "00030004", "00050006", "01020304"]);
    expect(hexWords(ip("64:ff9b::192.0.2.33"))).toEqual(["0064ff9b", "00000000", "00000000", "c0000221"]);
    expect(hexWords(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))).toEqual(["ffffffff", "ffffffff", "ffffffff", "ffffffff"]);
  });

  it("reads compressed IPv6 spellings the same as the full form", () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) {
      const full = Array.from({ length: 8 }, () => (rand(3) === 0 ? 0 : rand(65536)).toString(16)).join(":");
      const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1); // WHATWG canonical form
      expect(hexWords(ip(compressed)), `${full} vs ${compressed}`).toEqual(hexWords(ip(full)));
    }
  });

  it.each([
    "",
    " ",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "01.2.3.4",
    "0x1.2.3.4",
    "1.2.3.4:80",
    "[1.2.3.4]",
    "1.2.3.4%eth0",
    "[::1]:8080",
    "[::1",
    "::1]",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "::ffff:01.2.3.4",
    "fe80::1%",
    "fe80::1%eth 0",
    "fe80::1%a%b",
    "::g",
    "unknown",
    "localhost",
    "1.2.3.4, 5.6.7.8",
    "١.٢.٣.٤",
    "🔑",
    "1".repeat(10_000),
    "\u0000",
  ])("rejects %j", (text) => {
    expect(parseIp(text)).toBeNull();
  });
});

describe("parseCidr", () => {
  it.each([
    ["10.0.0.0/8", 4, 8],
    ["10.1.2.3/8", 4, 8],
    ["0.0.0.0/0", 4, 0],
    ["1.2.3.4/32", 4, 32],
    ["2001:db8::/32", 6, 32],
    ["::/0", 6, 0],
    ["::1/128", 6, 128],
    ["::ffff:10.0.0.0/104", 4, 8],
    ["::ffff:0:0/96", 4, 0],
    ["::ffff:1.2.3.4/128", 4, 32],
    ["::ffff:0:0/95", 6, 95],
  ])("parses %s", (text, family, prefix) => {
    const c = cidr(text);
    expect(c.family).toBe(family);
    expect(c.prefix).toBe(prefix);
  });

  it.each([
    "",
    "10.0.0.0",
    "::1",
    "10.0.0.0/",
    "10.0.0.0/33",
    "10.0.0.0/-1",
    "10.0.0.0/+8",
    "10.0.0.0/08",
    "10.0.0.0/8/8",
    "10.0.0.0/8 ",
    " 10.0.0.0/8",
    "10.0.0.0/ 8",
    "10.0.0.256/8",
    "10.0.0/8",
    "01.0.0.0/8",
    "::/129",
    "::/1000",
    "[::1]/128",
    "fe80::1%eth0/64",
    "/8",
    "abc/8",
    "10.0.0.0/8,10.0.0.0/16",
    "🔑/8",
    `${"1".repeat(200)}/8`,
  ])("rejects %j", (text) => {
    expect(parseCidr(text)).toBeNull();
  });
});

describe("ipInCidrs", () => {
  it("matches IPv4 networks", () => {
    expect(inside("10.1.2.3", "10.0.0.0/8")).toBe(true);
    expect(inside("11.0.0.0", "10.0.0.0/8")).toBe(false);
    expect(inside("9.255.255.255", "10.0.0.0/8")).toBe(false);
    expect(inside("10.255.255.255", "10.0.0.0/8")).toBe(true);
    expect(inside("1.2.3.4", "1.2.3.4/32")).toBe(true);
    expect(inside("1.2.3.5", "1.2.3.4/32")).toBe(false);
    expect(inside("255.255.255.255", "0.0.0.0/0")).toBe(true);
    expect(inside("200.1.1.1", "128.0.0.0/1")).toBe(true);
    expect(inside("127.1.1.1", "128.0.0.0/1")).toBe(false);
    expect(inside("192.168.1.77", "192.168.1.64/27")).toBe(true);
    expect(inside("192.168.1.96", "192.168.1.64/27")).toBe(false);
  });

  it("masks host bits of the network", () => {
    expect(inside("10.200.0.1", "10.1.2.3/8")).toBe(true);
  });

  it("matches IPv6 networks across word boundaries", () => {
    expect(inside("2001:db8::1", "2001:db8::/32")).toBe(true);
    expect(inside("2001:db9::1", "2001:db8::/32")).toBe(false);
    expect(inside("2001:db8:0:1::1", "2001:db8::/63")).toBe(true);
    expect(inside("2001:db8:0:2::1", "2001:db8::/63")).toBe(false);
    expect(inside("::1", "::1/128")).toBe(true);
    expect(inside("::2", "::1/128")).toBe(false);
    expect(inside("ffff::1", "::/0")).toBe(true);
    expect(inside("fe80::1%eth0", "fe80::/10")).toBe(true);
  });

  it("compares IPv4-mapped addresses and networks as IPv4", () => {
    expect(inside("::ffff:10.1.2.3", "10.0.0.0/8")).toBe(true);
    expect(inside("10.1.2.3", "::ffff:10.0.0.0/104")).toBe(true);
    expect(inside("::ffff:10.1.2.3", "::ffff:10.0.0.0/104")).toBe(true);
    expect(inside("::ffff:11.1.2.3", "10.0.0.0/8")).toBe(false);
  });

  it("never matches across families", () => {
    expect(inside("1.2.3.4", "::/0")).toBe(false);
    expect(inside("::1", "0.0.0.0/0")).toBe(false);
    expect(inside("::1.2.3.4", "1.2.3.4/32")).toBe(false);
  });

  it("matches any of several networks and none of an empty list", () => {
    expect(inside("2001:db8::1", "10.0.0.0/8", "2001:db8::/32")).toBe(true);
    expect(inside("10.0.0.1", "2001:db8::/32", "10.0.0.0/8")).toBe(true);
    expect(inside("10.0.0.1")).toBe(false);
  });

  it("compileCidrs drops invalid entries", () => {
    const compiled = compileCidrs(["10.0.0.0/8", "garbage", "::1/128"]);
    expect(compiled).toHaveLength(2);
    expect(ipInCidrs(ip("::1"), compiled)).toBe(true);
    expect(ipInCidrs(ip("11.0.0.1"), compileCidrs(["garbage"]))).toBe(false);
  });

  it("agrees with node's BlockList on random networks", () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const v4 = (): string => Array.from({ length: 4 }, () => rand(256)).join(".");
    const v6 = (): string => Array.from({ length: 8 }, () => (rand(4) === 0 ? 0 : rand(65536)).toString(16)).join(":");
    const outcomes = { in: 0, out: 0 };
    for (let i = 0; i < 2000; i++) {
      const family = rand(2) === 0 ? 4 : 6;
      const make = family === 4 ? v4 : v6;
      const prefix = rand(family === 4 ? 33 : 129);
      const net = make();
      // Half of the probes share the network's leading text so that matches happen too.
      const probe = rand(2) === 0 ? make() : net.slice(0, net.length - 1 - rand(3)) + make().slice(-1);
      const parsedProbe = parseIp(probe);
      if (!parsedProbe || parsedProbe.family !== family) continue;
      const list = new BlockList();
      list.addSubnet(net, prefix, family === 4 ? "ipv4" : "ipv6");
      const expected = list.check(probe, family === 4 ? "ipv4" : "ipv6");
      expect(ipInCidrs(parsedProbe, [cidr(`${net}/${prefix}`)]), `${probe} in ${net}/${prefix}`).toBe(expected);
      outcomes[expected ? "in" : "out"]++;
    }
    expect(outcomes.in).toBeGreaterThan(200);
    expect(outcomes.out).toBeGreaterThan(200);
  });
});

describe("resolveClientIp", () => {
  const headersOf =
    (h: Record<string, string>) =>
    (name: string): string | undefined =>
      h[name];
  const resolve = (source: ClientIpSource, h: Record<string, string>, remote: string | undefined = "9.9.9.9"): string | null =>
    resolveClientIp(source, headersOf(h), remote)?.text ?? null;
  const all = { "x-forwarded-for": "1.1.1.1", "cf-connecting-ip": "2.2.2.2", "x-real-ip": "3.3.3.3", "true-client-ip": "4.4.4.4" };

  it("uses the socket peer for UNSPECIFIED and REMOTE_ADDR, ignoring headers", () => {
    expect(resolve("CLIENT_IP_SOURCE_UNSPECIFIED", all)).toBe("9.9.9.9");
    expect(resolve("CLIENT_IP_SOURCE_REMOTE_ADDR", all)).toBe("9.9.9.9");
    expect(resolve("CLIENT_IP_SOURCE_REMOTE_ADDR", {}, "::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(resolve("CLIENT_IP_SOURCE_REMOTE_ADDR", {}, "::1")).toBe("::1");
  });

  it("reads the header of each source", () => {
    expect(resolve("CLIENT_IP_SOURCE_X_FORWARDED_FOR", all)).toBe("1.1.1.1");
    expect(resolve("CLIENT_IP_SOURCE_CF_CONNECTING_IP", all)).toBe("2.2.2.2");
    expect(resolve("CLIENT_IP_SOURCE_X_REAL_IP", all)).toBe("3.3.3.3");
    expect(resolve("CLIENT_IP_SOURCE_TRUE_CLIENT_IP", all)).toBe("4.4.4.4");
  });

  it("takes the trimmed left-most X-Forwarded-For entry", () => {
    const xff = (v: string): string | null => resolve("CLIENT_IP_SOURCE_X_FORWARDED_FOR", { "x-forwarded-for": v });
    expect(xff("203.0.113.7, 10.0.0.1, 10.0.0.2")).toBe("203.0.113.7");
    expect(xff("  203.0.113.7  ,10.0.0.1")).toBe("203.0.113.7");
    expect(xff("2001:db8::7, 10.0.0.1")).toBe("2001:db8::7");
    expect(xff("[2001:db8::7]")).toBe("2001:db8::7");
    expect(xff("::ffff:203.0.113.7")).toBe("203.0.113.7");
  });

  it("falls back to the socket peer when the header is absent or blank", () => {
    for (const source of [
      "CLIENT_IP_SOURCE_X_FORWARDED_FOR",
      "CLIENT_IP_SOURCE_CF_CONNECTING_IP",
      "CLIENT_IP_SOURCE_X_REAL_IP",
      "CLIENT_IP_SOURCE_TRUE_CLIENT_IP",
    ] as const) {
      expect(resolve(source, {})).toBe("9.9.9.9");
      expect(resolve(source, { "x-forwarded-for": "", "cf-connecting-ip": "", "x-real-ip": "", "true-client-ip": "" })).toBe("9.9.9.9");
      expect(resolve(source, { "x-forwarded-for": "  ", "cf-connecting-ip": "\t", "x-real-ip": " ", "true-client-ip": " " })).toBe("9.9.9.9");
    }
  });

  it("returns null (unknown, fail closed) for an unparseable header instead of falling back", () => {
    expect(resolve("CLIENT_IP_SOURCE_X_FORWARDED_FOR", { "x-forwarded-for": "unknown" })).toBeNull();
    expect(resolve("CLIENT_IP_SOURCE_X_FORWARDED_FOR", { "x-forwarded-for": ", 1.2.3.4" })).toBeNull();
    expect(resolve("CLIENT_IP_SOURCE_X_FORWARDED_FOR", { "x-forwarded-for": "1.2.3.4:5678" })).toBeNull();
    expect(resolve("CLIENT_IP_SOURCE_X_FORWARDED_FOR", { "x-forwarded-for": "x".repeat(10_000) })).toBeNull();
    expect(resolve("CLIENT_IP_SOURCE_CF_CONNECTING_IP", { "cf-connecting-ip": "1.2.3.4, 5.6.7.8" })).toBeNull();
    expect(resolve("CLIENT_IP_SOURCE_X_REAL_IP", { "x-real-ip": "999.1.1.1" })).toBeNull();
    expect(resolve("CLIENT_IP_SOURCE_TRUE_CLIENT_IP", { "true-client-ip": "🔑" })).toBeNull();
  });

  it("returns null when the socket peer is needed but missing or unparseable", () => {
    expect(resolveClientIp("CLIENT_IP_SOURCE_REMOTE_ADDR", headersOf({}), undefined)).toBeNull();
    expect(resolveClientIp("CLIENT_IP_SOURCE_X_FORWARDED_FOR", headersOf({}), undefined)).toBeNull();
    expect(resolve("CLIENT_IP_SOURCE_REMOTE_ADDR", {}, "")).toBeNull();
    expect(resolve("CLIENT_IP_SOURCE_UNSPECIFIED", {}, "garbage")).toBeNull();
  });

  it("asks for lower-case header names only", () => {
    const asked: string[] = [];
    resolveClientIp("CLIENT_IP_SOURCE_X_REAL_IP", (n) => (asked.push(n), undefined), "1.2.3.4");
    resolveClientIp("CLIENT_IP_SOURCE_REMOTE_ADDR", (n) => (asked.push(n), undefined), "1.2.3.4");
    expect(asked).toEqual(["x-real-ip"]);
  });
});
