import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from "node:crypto";
import { base58Decode, base58Encode } from "./base58.js";
import { UUID_PATTERN } from "./ids.js";

/** An issued key split into its parts (docs/keys.md#issued-key-format); nothing here has been authenticated yet. */
export interface ParsedIssuedKey {
  prefix: string;
  identifier: string;
  checksum: string;
  /** minting time embedded in the identifier */
  unixSeconds: number;
  /** the embedded UUID, lowercased */
  keyId: string;
}

export interface MintIssuedKeyInput {
  prefix: string;
  secret: string;
  /** lowercase hyphenated UUID */
  keyId: string;
  unixSeconds: number;
}

export interface IssuedKeyCheckerOptions {
  /** every accepted prefix: current, retired, public current, public retired */
  prefixes: readonly string[];
  /** current secret first, then non-expired retired ones; evaluated on every call */
  secrets: () => readonly string[];
  /** 0 disables the age check */
  maxTtlMs: number;
  clockSkewMs: number;
  now: () => number;
}

// docs/verification.md#credential-routing rule 3. Base58 has no `_`, so the last two underscores split the parts.
const ISSUED_RE = /^([a-zA-Z0-9_]{1,16})_v1_([1-9A-HJ-NP-Za-km-z]{20,})_([1-9A-HJ-NP-Za-km-z]{10,})$/;
const PAYLOAD_RE = new RegExp(`^([0-9]+):(${UUID_PATTERN})$`);
const PREFIX_RE = /^[a-zA-Z0-9_]{1,16}$/;
const LOWER_UUID_RE = new RegExp(`^${UUID_PATTERN.replaceAll("a-fA-F", "a-f")}$`);
const MAX_IDENTIFIER_CHARS = 128;
const MIN_PAYLOAD_BYTES = 20;
const MAX_PAYLOAD_BYTES = 60;
const HMAC_BYTES = 32;
// Base58 of 32 bytes is at most 44 characters; longer input cannot match and is not decoded.
const MAX_CHECKSUM_CHARS = 44;
// Secrets come from config, so the cache stays tiny; the bound only guards against misuse.
const MAX_CACHED_SECRETS = 64;

const hmacMessage = (prefix: string, identifier: string): string => `${prefix}_v1_${identifier}_`;

/** docs/keys.md#issued-key-format. Throws RangeError on malformed inputs: they are programming errors, never user input. */
export function mintIssuedKey({ prefix, secret, keyId, unixSeconds }: MintIssuedKeyInput): string {
  if (!PREFIX_RE.test(prefix)) throw new RangeError("issued key prefix must match ^[a-zA-Z0-9_]{1,16}$");
  if (!LOWER_UUID_RE.test(keyId)) throw new RangeError("issued key id must be a lowercase UUID");
  if (!Number.isSafeInteger(unixSeconds) || unixSeconds < 0) throw new RangeError("unixSeconds must be a non-negative integer");
  const identifier = base58Encode(Buffer.from(`${unixSeconds}:${keyId}`, "ascii"));
  const message = hmacMessage(prefix, identifier);
  const mac = createHmac("sha256", Buffer.from(secret, "utf8")).update(message, "ascii").digest();
  return message + base58Encode(mac);
}

/** Splits a credential that routes as an issued key (docs/verification.md#credential-routing rule 3); null when it does not. */
export function parseIssuedKey(credential: string): ParsedIssuedKey | null {
  const m = ISSUED_RE.exec(credential);
  if (!m) return null;
  const [, prefix, identifier, checksum] = m;
  if (prefix === undefined || identifier === undefined || checksum === undefined) return null;
  if (identifier.length > MAX_IDENTIFIER_CHARS) return null;
  let payload = payloads.get(identifier);
  if (payload === undefined) {
    payload = decodePayload(identifier);
    if (payloads.size >= MAX_MEMO_PAYLOADS) payloads.clear();
    payloads.set(identifier, payload);
  }
  return payload && { prefix, identifier, checksum, unixSeconds: payload.unixSeconds, keyId: payload.keyId };
}

type Payload = { unixSeconds: number; keyId: string } | null;

/**
 * Decoded identifiers, because the same keys are verified over and over. An identifier is the
 * key id and minting time in base58: public, nothing secret is kept. Bounded by clearing.
 */
const payloads = new Map<string, Payload>();
const MAX_MEMO_PAYLOADS = 8192;

function decodePayload(identifier: string): Payload {
  const payload = base58Decode(identifier);
  if (!payload || payload.length < MIN_PAYLOAD_BYTES || payload.length > MAX_PAYLOAD_BYTES) return null;
  // latin1 maps every byte to one char, so non-ASCII bytes simply fail the pattern.
  const p = PAYLOAD_RE.exec(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("latin1"));
  if (!p || p[1] === undefined || p[2] === undefined) return null;
  return { unixSeconds: Number(p[1]), keyId: p[2].toLowerCase() };
}

/**
 * docs/verification.md#pipeline step 1: the CPU-only checks of a parsed issued key (prefix, timestamp window,
 * checksum under any live secret). False means NOT_FOUND.
 */
export function createIssuedKeyChecker(opts: IssuedKeyCheckerOptions): (parsed: ParsedIssuedKey) => boolean {
  const prefixes = new Set(opts.prefixes);
  const keys = new Map<string, KeyObject>();
  const keyFor = (secret: string): KeyObject => {
    let key = keys.get(secret);
    if (key === undefined) {
      if (keys.size >= MAX_CACHED_SECRETS) keys.clear();
      key = createSecretKey(Buffer.from(secret, "utf8"));
      keys.set(secret, key);
    }
    return key;
  };

  return (parsed) => {
    if (!prefixes.has(parsed.prefix)) return false;
    const now = opts.now();
    const tsMs = parsed.unixSeconds * 1000;
    if (!Number.isFinite(tsMs) || tsMs > now + opts.clockSkewMs) return false;
    if (opts.maxTtlMs > 0 && now - tsMs > opts.maxTtlMs) return false;
    if (parsed.checksum.length > MAX_CHECKSUM_CHARS) return false;
    const presented = base58Decode(parsed.checksum);
    if (!presented || presented.length !== HMAC_BYTES) return false;
    const message = hmacMessage(parsed.prefix, parsed.identifier);
    for (const secret of opts.secrets()) {
      const mac = createHmac("sha256", keyFor(secret)).update(message, "ascii").digest();
      if (timingSafeEqual(mac, presented)) return true;
    }
    return false;
  };
}
