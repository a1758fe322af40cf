import { createHash, randomBytes } from "node:crypto";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { TalosError } from "../errors.js";
import { pageTokenKey } from "../keys/derived-key-ids.js";
import type { KeyKind } from "../types.js";

/** What a page token remembers (docs/keys.md#page-tokens). */
export interface PageCursor {
  nid: string;
  kind: KeyKind;
  /** the last key_id of the page just served */
  after: string;
  /** the normalised filter text (normaliseFilter), "" for none */
  filter: string;
}

export interface PageTokenExpectation {
  nid: string;
  kind: KeyKind;
  filterNormalised: string;
  /** current secret first, then non-expired retired ones */
  secrets: readonly string[];
}

const VERSION = 0x01;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
const AAD = Buffer.from("talos/pagination/v1", "ascii");
// Real tokens are ~250 characters; the cap keeps hostile input from costing anything.
const MAX_TOKEN_CHARS = 2048;
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;

const reject = (message: string): TalosError => new TalosError("bad_request", message, { field: "page_token" });

/** base64url (no padding) of SHA-256 over the normalised filter: binds a token to its filter. */
export function filterDigest(filterNormalised: string): string {
  return createHash("sha256").update(filterNormalised, "utf8").digest("base64url");
}

/** 0x01 ‖ nonce ‖ XChaCha20-Poly1305(JSON {v,nid,kind,after,f}), base64url without padding. */
export function encodePageToken(cursor: PageCursor, currentSecret: string): string {
  const { nid, kind, after, filter } = cursor;
  const plaintext = Buffer.from(JSON.stringify({ v: 1, nid, kind, after, f: filterDigest(filter) }), "utf8");
  const nonce = randomBytes(NONCE_BYTES);
  const sealed = xchacha20poly1305(pageTokenKey(currentSecret), nonce, AAD).encrypt(plaintext);
  return Buffer.concat([Buffer.of(VERSION), nonce, sealed]).toString("base64url");
}

interface TokenPayload {
  v: 1;
  nid: string;
  kind: KeyKind;
  after: string;
  f: string;
}

function isPayload(x: unknown): x is TokenPayload {
  if (typeof x !== "object" || x === null) return false;
  const p = x as Record<string, unknown>;
  return (
    p.v === 1 &&
    typeof p.nid === "string" &&
    (p.kind === "issued" || p.kind === "imported") &&
    typeof p.after === "string" &&
    typeof p.f === "string"
  );
}

/** Authenticated payload, or null for anything undecodable, tampered or sealed by an unknown secret. */
function openToken(token: string, secrets: readonly string[]): TokenPayload | null {
  if (token.length > MAX_TOKEN_CHARS || !BASE64URL_RE.test(token)) return null;
  const raw = Buffer.from(token, "base64url");
  // Only the canonical spelling is accepted, so a token has exactly one text form.
  if (raw.toString("base64url") !== token) return null;
  if (raw.length <= 1 + NONCE_BYTES + TAG_BYTES || raw[0] !== VERSION) return null;
  const nonce = raw.subarray(1, 1 + NONCE_BYTES);
  const sealed = raw.subarray(1 + NONCE_BYTES);
  for (const secret of secrets) {
    let plaintext: Uint8Array;
    try {
      plaintext = xchacha20poly1305(pageTokenKey(secret), nonce, AAD).decrypt(sealed);
    } catch {
      continue;
    }
    try {
      const payload: unknown = JSON.parse(Buffer.from(plaintext).toString("utf8"));
      return isPayload(payload) ? payload : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** docs/keys.md#page-tokens. Throws bad_request with the spec's exact messages; returns where the next page starts. */
export function decodePageToken(token: string, expected: PageTokenExpectation): { after: string } {
  const payload = openToken(token, expected.secrets);
  if (!payload) throw reject("invalid page token");
  if (payload.nid !== expected.nid) throw reject("page token network mismatch");
  if (payload.kind !== expected.kind || payload.f !== filterDigest(expected.filterNormalised)) {
    throw reject("page token does not match the request");
  }
  return { after: payload.after };
}
