import { randomBytes } from "node:crypto";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { describe, expect, it } from "vitest";
import { TalosError } from "../errors.js";
import { pageTokenKey } from "../keys/derived-key-ids.js";
import { NIL_NID } from "../types.js";
import { decodePageToken, encodePageToken, filterDigest, type PageTokenExpectation } from "./page-token.js";

const SECRET = "0123456789abcdef0123456789abcdef";
const NEW_SECRET = "fedcba9876543210fedcba9876543210";
const OTHER_NID = "11111111-2222-4333-8444-555555555555";
const FILTER = 'actor_id="u1" AND status=KEY_STATUS_ACTIVE';
const AFTER = "3f2c9a4e-8b1d-4c7e-9f00-1a2b3c4d5e6f";

const expectation = (overrides: Partial<PageTokenExpectation> = {}): PageTokenExpectation => ({
  nid: NIL_NID,
  kind: "issued",
  filterNormalised: FILTER,
  secrets: [SECRET],
  ...overrides,
});

const token = (): string => encodePageToken({ nid: NIL_NID, kind: "issued", after: AFTER, filter: FILTER }, SECRET);

function rejection(fn: () => unknown): TalosError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TalosError) return e;
    throw e;
  }
  throw new Error("expected a rejection");
}

function expectRejected(fn: () => unknown, message: string): void {
  const e = rejection(fn);
  expect(e.id).toBe("bad_request");
  expect(e.message).toBe(message);
  expect(e.metadata).toEqual({ field: "page_token" });
}

function seal(plaintext: string, secret = SECRET, version = 0x01): string {
  const nonce = randomBytes(24);
  const aad = Buffer.from("talos/pagination/v1");
  const sealed = xchacha20poly1305(pageTokenKey(secret), nonce, aad).encrypt(Buffer.from(plaintext));
  return Buffer.concat([Buffer.of(version), nonce, sealed]).toString("base64url");
}

describe("page tokens", () => {
  it("round-trips", () => {
    expect(decodePageToken(token(), expectation())).toEqual({ after: AFTER });
  });

  it("round-trips imported lists and the empty filter", () => {
    const t = encodePageToken({ nid: OTHER_NID, kind: "imported", after: "a".repeat(64), filter: "" }, SECRET);
    expect(decodePageToken(t, expectation({ nid: OTHER_NID, kind: "imported", filterNormalised: "" }))).toEqual({
      after: "a".repeat(64),
    });
  });

  it("has the normative layout: 0x01 ‖ 24-byte nonce ‖ ciphertext+tag over compact JSON", () => {
    const t = token();
    expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
    const raw = Buffer.from(t, "base64url");
    expect(raw[0]).toBe(0x01);
    const plain = xchacha20poly1305(pageTokenKey(SECRET), raw.subarray(1, 25), Buffer.from("talos/pagination/v1")).decrypt(
      raw.subarray(25),
    );
    expect(Buffer.from(plain).toString()).toBe(
      `{"v":1,"nid":"${NIL_NID}","kind":"issued","after":"${AFTER}","f":"${filterDigest(FILTER)}"}`,
    );
    expect(raw.length).toBe(1 + 24 + plain.length + 16);
  });

  it("hashes the normalised filter as unpadded base64url SHA-256", () => {
    expect(filterDigest("")).toBe("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
    expect(filterDigest(FILTER)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("uses a fresh nonce per token", () => {
    expect(token()).not.toBe(token());
  });

  it("decrypts with a retired secret after rotation", () => {
    expect(decodePageToken(token(), expectation({ secrets: [NEW_SECRET, SECRET] }))).toEqual({ after: AFTER });
  });

  it("rejects tokens from an unknown or expired secret", () => {
    expectRejected(() => decodePageToken(token(), expectation({ secrets: [NEW_SECRET] })), "invalid page token");
    expectRejected(() => decodePageToken(token(), expectation({ secrets: [] })), "invalid page token");
  });

  it("rejects every single tampered byte", () => {
    const raw = Buffer.from(token(), "base64url");
    for (let i = 0; i < raw.length; i++) {
      const copy = Buffer.from(raw);
      copy[i] = copy[i]! ^ 0x01;
      expectRejected(() => decodePageToken(copy.toString("base64url"), expectation()), "invalid page token");
    }
  });

  it("rejects truncated and extended tokens", () => {
    const t = token();
    expectRejected(() => decodePageToken(t.slice(0, -1), expectation()), "invalid page token");
    expectRejected(() => decodePageToken(t.slice(0, 40), expectation()), "invalid page token");
    expectRejected(() => decodePageToken(`${t}A`, expectation()), "invalid page token");
    expectRejected(() => decodePageToken(`${t}==`, expectation()), "invalid page token");
  });

  it("rejects a token from another network", () => {
    expectRejected(() => decodePageToken(token(), expectation({ nid: OTHER_NID })), "page token network mismatch");
  });

  it("rejects a token from the other list", () => {
    expectRejected(() => decodePageToken(token(), expectation({ kind: "imported" })), "page token does not match the request");
  });

  it("rejects a token used with another filter", () => {
    for (const filterNormalised of ["", 'actor_id="u1"', 'actor_id="u2" AND status=KEY_STATUS_ACTIVE']) {
      expectRejected(
        () => decodePageToken(token(), expectation({ filterNormalised })),
        "page token does not match the request",
      );
    }
  });

  it("checks the network before the list and filter", () => {
    expectRejected(
      () => decodePageToken(token(), expectation({ nid: OTHER_NID, kind: "imported", filterNormalised: "" })),
      "page token network mismatch",
    );
  });

  it("rejects authentic tokens with another version byte or an unexpected payload", () => {
    const good = `{"v":1,"nid":"${NIL_NID}","kind":"issued","after":"${AFTER}","f":"${filterDigest(FILTER)}"}`;
    expect(decodePageToken(seal(good), expectation())).toEqual({ after: AFTER });
    expectRejected(() => decodePageToken(seal(good, SECRET, 0x02), expectation()), "invalid page token");
    for (const bad of [
      "not json",
      "null",
      "[]",
      good.replace('"v":1', '"v":2'),
      good.replace('"kind":"issued"', '"kind":"other"'),
      good.replace(`"after":"${AFTER}"`, '"after":7'),
      `{"v":1,"nid":"${NIL_NID}","kind":"issued","f":"${filterDigest(FILTER)}"}`,
    ]) {
      expectRejected(() => decodePageToken(seal(bad), expectation()), "invalid page token");
    }
  });

  it.each([
    "",
    "=",
    "AQ",
    "not a token",
    "bm90IGEgdG9rZW4",
    "AQ==",
    "A".repeat(5000),
    "🔑",
    "Zm9v/+bar",
    "\u0000",
    `${"A".repeat(100)}\n`,
  ])("rejects garbage %#", (garbage) => {
    expectRejected(() => decodePageToken(garbage, expectation()), "invalid page token");
  });
});
