import { describe, expect, it } from "vitest";
import { TalosError } from "@talos/core";
import { hasDotSegment } from "./app.js";
import { decodeBody, parseJsonObject } from "./body.js";

const rejects = (f: () => unknown, message: RegExp, field?: string) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TalosError);
    expect((e as TalosError).id).toBe("bad_request");
    expect((e as TalosError).message).toMatch(message);
    if (field !== undefined) expect((e as TalosError).metadata.field).toBe(field);
    return;
  }
  throw new Error("did not throw");
};

describe("decodeBody", () => {
  it("accepts UTF-8 (U+FFFD included), drops one byte-order mark, rejects every malformed sequence", () => {
    expect(decodeBody(Buffer.from("\ufeff\ufeff{}"))).toBe("\ufeff{}");
    expect(decodeBody(Buffer.from('{"a":"\ufffd😀é"}'))).toBe('{"a":"\ufffd😀é"}');
    expect(decodeBody(new Uint8Array([0x7b, 0x7d]))).toBe("{}");
    for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80]]) {
      rejects(() => decodeBody(Buffer.from([0x22, ...bad, 0x22])), /not valid UTF-8/);
      // next to a genuine U+FFFD too
      rejects(() => decodeBody(Buffer.concat([Buffer.from("\ufffd"), Buffer.from(bad)])), /not valid UTF-8/);
    }
  });
});

describe("parseJsonObject", () => {
  it("rejects __proto__, constructor and prototype at any depth, and never sets a prototype", () => {
    for (const body of [
      '{"__proto__":{"credential":"x"}}',
      '{"a":[1,{"b":{"constructor":1}}]}',
      '{"metadata":{"prototype":null}}',
      '{"custom_claims":{"x":[[{"__proto__":{}}]]}}',
    ]) {
      rejects(() => parseJsonObject(body), /must not contain the key "(__proto__|constructor|prototype)"/);
    }
    rejects(() => parseJsonObject('{"_Proto__":{"name":"x"}}'), /not allowed/, "__proto__");
    const ok = parseJsonObject('{"name":"a","metadata":{"proto":1}}');
    expect(Object.getPrototypeOf(ok)).toBe(Object.prototype);
    expect(ok).toEqual({ name: "a", metadata: { proto: 1 } });
  });

  it("rejects lone surrogate escapes with the field zod would name; pairs and escaped backslashes are fine", () => {
    rejects(() => parseJsonObject('{"credential":"a\\ud800"}'), /unpaired/, "credential");
    rejects(() => parseJsonObject('{"requests":[{"credential":"x"},{"credential":"\\uDC00"}]}'), /unpaired/, "requests[1].credential");
    rejects(() => parseJsonObject('{"rateLimitPolicy":{"unit":"\\udbff"}}'), /unpaired/, "rate_limit_policy.unit");
    rejects(() => parseJsonObject('{"metadata":{"a":{"b":["\\ud800"]}}}'), /unpaired/, "metadata");
    rejects(() => parseJsonObject('{"custom_claims":{"\\udfff":1}}'), /unpaired/, "custom_claims");
    expect(parseJsonObject('{"name":"\\ud83d\\ude00"}')).toEqual({ name: "😀" });
    expect(parseJsonObject('{"name":"\\\\ud800"}')).toEqual({ name: "\\ud800" });
  });

  it("still limits nesting to 100 levels", () => {
    expect(parseJsonObject(`{"a":${"[".repeat(99)}${"]".repeat(99)}}`)).toBeDefined();
    rejects(() => parseJsonObject(`{"a":${"[".repeat(100)}${"]".repeat(100)}}`), /deeper than 100/);
  });
});

describe("hasDotSegment", () => {
  it("finds literal and percent-encoded dot segments in the path, not in the query or inside a segment", () => {
    for (const t of ["/a/..", "/a/../b", "/./a", "/a/%2e%2E/b", "/a/.%2e", "/a/%2E.?x", "/a/%2e", "/..", "/."])
      expect(hasDotSegment(t), t).toBe(true);
    for (const t of ["/a/..b", "/a/b..", "/a/...", "/a/%2e%2e%2e", "/a?x=/../b", "/a/.well-known", "/a/%2ex", "/"])
      expect(hasDotSegment(t), t).toBe(false);
  });
});
