/// <reference path="../../../../test/support/macaroon.d.ts" />
import { describe, expect, it } from "vitest";
import npmMacaroon from "macaroon";
import { macaroonRootKey } from "../keys/derived-key-ids.js";
import {
  decodeMacaroonToken,
  decodeMacaroonV2,
  encodeMacaroonToken,
  encodeMacaroonV2,
  MacaroonFormatError,
  macaroonSignatureMatches,
  macaroonSigningKey,
  mintMacaroon,
  type Macaroon,
} from "./macaroon.js";

const utf8 = new TextEncoder();
// docs/compatibility.md#test-vectors test vector
const SECRET = "0123456789abcdef0123456789abcdef";
const ROOT = macaroonRootKey(SECRET);

function sample(caveats = ['{"exp":1}']): Macaroon {
  return mintMacaroon({ rootKey: ROOT, location: "https://talos.test", identifier: utf8.encode('{"jti":"abc"}'), caveats: caveats.map((c) => utf8.encode(c)) });
}

describe("macaroon V2 codec", () => {
  it("uses the documented root key", () => {
    expect(Buffer.from(ROOT).toString("hex")).toBe("d88a20e89d10d9c5a449a2d65a0e53f175bacd367e356a28a641a6dc947a6e86");
  });

  it("round-trips location, identifier, caveats and signature", () => {
    const m = sample(['{"a":1}', "second"]);
    const bytes = encodeMacaroonV2(m);
    expect(bytes[0]).toBe(2);
    const back = decodeMacaroonV2(bytes);
    expect(back.location).toBe("https://talos.test");
    expect(Buffer.from(back.identifier).toString()).toBe('{"jti":"abc"}');
    expect(back.caveats.map((c) => Buffer.from(c.identifier).toString())).toEqual(['{"a":1}', "second"]);
    expect(Buffer.from(back.signature)).toEqual(Buffer.from(m.signature));
    expect(macaroonSignatureMatches(back, macaroonSigningKey(ROOT))).toBe(true);
  });

  it("round-trips a long caveat (multi-byte varint) and a macaroon without location", () => {
    const long = JSON.stringify({ blob: "x".repeat(5000) });
    const m = mintMacaroon({ rootKey: ROOT, location: null, identifier: utf8.encode("id"), caveats: [utf8.encode(long)] });
    const back = decodeMacaroonV2(encodeMacaroonV2(m));
    expect(back.location).toBeNull();
    expect(Buffer.from(back.caveats[0]!.identifier).toString()).toBe(long);
  });

  it("rejects a changed caveat, signature or root key", () => {
    const m = sample();
    const key = macaroonSigningKey(ROOT);
    expect(macaroonSignatureMatches({ ...m, caveats: [{ identifier: utf8.encode('{"exp":2}'), location: null, vid: null }] }, key)).toBe(false);
    const sig = Uint8Array.from(m.signature);
    sig[0]! ^= 1;
    expect(macaroonSignatureMatches({ ...m, signature: sig }, key)).toBe(false);
    expect(macaroonSignatureMatches(m, macaroonSigningKey(macaroonRootKey("another-secret-another-secret-0123")))).toBe(false);
  });

  it.each([
    ["empty", new Uint8Array()],
    ["version 1", Uint8Array.of(1, 2, 1, 0x61, 0, 0, 6, 0)],
    ["truncated", encodeMacaroonV2(sample()).subarray(0, 20)],
    ["trailing bytes", Uint8Array.from([...encodeMacaroonV2(sample()), 0])],
    ["short signature", Uint8Array.of(2, 2, 1, 0x61, 0, 0, 6, 1, 0)],
    ["missing identifier", Uint8Array.of(2, 0, 0, 6, 32, ...new Array<number>(32).fill(0))],
    ["oversized varint", Uint8Array.of(2, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)],
  ])("rejects %s input", (_name, bytes) => {
    expect(() => decodeMacaroonV2(bytes)).toThrow(MacaroonFormatError);
  });

  it("encodes tokens as <prefix>_v1_ + unpadded base64url and decodes current and retired prefixes", () => {
    const m = sample();
    const token = encodeMacaroonToken("mc", m);
    expect(token).toMatch(/^mc_v1_[A-Za-z0-9_-]+$/);
    expect(decodeMacaroonToken(token, ["mc"]).signature).toEqual(m.signature);
    const retired = encodeMacaroonToken("old", m);
    expect(decodeMacaroonToken(retired, ["mc", "old"]).signature).toEqual(m.signature);
    expect(() => decodeMacaroonToken(retired, ["mc"])).toThrow(MacaroonFormatError);
    expect(() => decodeMacaroonToken("mc_v1_not*base64", ["mc"])).toThrow(MacaroonFormatError);
    expect(() => decodeMacaroonToken(`${token}=`, ["mc"])).toThrow(MacaroonFormatError);
  });
});

describe("compatibility with the npm macaroon package (libmacaroons semantics)", () => {
  it("the package decodes and verifies our token with the documented root key", () => {
    const token = encodeMacaroonToken("mc", sample(['{"scp":["read"]}']));
    const theirs = npmMacaroon.importMacaroon(npmMacaroon.base64ToBytes(token.slice("mc_v1_".length)));
    const seen: string[] = [];
    theirs.verify(ROOT, (c) => {
      seen.push(c);
      return null;
    });
    expect(seen).toEqual(['{"scp":["read"]}']);
    expect(theirs.location).toBe("https://talos.test");
    expect(() => theirs.verify(macaroonRootKey("a-different-secret-0123456789abcdef"), () => null)).toThrow();
  });

  it("we decode and verify a macaroon minted by the package", () => {
    const theirs = npmMacaroon.newMacaroon({ identifier: '{"jti":"x"}', location: "https://talos.test", rootKey: ROOT });
    theirs.addFirstPartyCaveat('{"exp":99}');
    const ours = decodeMacaroonV2(theirs.exportBinary());
    expect(macaroonSignatureMatches(ours, macaroonSigningKey(ROOT))).toBe(true);
    expect(Buffer.from(encodeMacaroonV2(ours))).toEqual(Buffer.from(theirs.exportBinary()));
  });

  it("reads third-party caveats (verification id) but never accepts them as signed by us", () => {
    const theirs = npmMacaroon.newMacaroon({ identifier: "id", location: "loc", rootKey: ROOT });
    theirs.addThirdPartyCaveat(utf8.encode("0123456789abcdef0123456789abcdef"), "third", "https://elsewhere");
    const ours = decodeMacaroonV2(theirs.exportBinary());
    expect(ours.caveats[0]!.vid).not.toBeNull();
    expect(ours.caveats[0]!.location).toBe("https://elsewhere");
    expect(macaroonSignatureMatches(ours, macaroonSigningKey(ROOT))).toBe(false);
  });
});
