import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * libmacaroons V2 binary format and HMAC chain (docs/derived-tokens.md#macaroon), first-party caveats only.
 * Compatible with libmacaroons, go-macaroon and the npm `macaroon` package (tested against it).
 */
export interface MacaroonCaveat {
  identifier: Uint8Array;
  location: string | null;
  /** verification id: present only on third-party caveats */
  vid: Uint8Array | null;
}

export interface Macaroon {
  location: string | null;
  identifier: Uint8Array;
  caveats: MacaroonCaveat[];
  signature: Uint8Array;
}

const VERSION_2 = 0x02;
const EOS = 0;
const LOCATION = 1;
const IDENTIFIER = 2;
const VID = 4;
const SIGNATURE = 6;
const SIGNATURE_BYTES = 32;
const MAX_VARINT_BYTES = 5;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });
// libmacaroons' key generator: the root key is never used directly as the HMAC key.
const KEY_GENERATOR = Buffer.from("macaroons-key-generator", "ascii");

const hmac = (key: Uint8Array, data: Uint8Array): Buffer => createHmac("sha256", key).update(data).digest();

/** HMAC-SHA256(key = "macaroons-key-generator", message = root key): the first link of the chain. */
export function macaroonSigningKey(rootKey: Uint8Array): Uint8Array {
  return hmac(KEY_GENERATOR, rootKey);
}

/** Signature of a macaroon with first-party caveats, from the already generated signing key. */
function macaroonChain(signingKey: Uint8Array, identifier: Uint8Array, caveatIds: readonly Uint8Array[]): Uint8Array {
  let sig: Uint8Array = hmac(signingKey, identifier);
  for (const c of caveatIds) sig = hmac(sig, c);
  return sig;
}

export function mintMacaroon(opts: { rootKey: Uint8Array; location: string | null; identifier: Uint8Array; caveats: readonly Uint8Array[] }): Macaroon {
  return {
    location: opts.location,
    identifier: opts.identifier,
    caveats: opts.caveats.map((identifier) => ({ identifier, location: null, vid: null })),
    signature: macaroonChain(macaroonSigningKey(opts.rootKey), opts.identifier, opts.caveats),
  };
}

/** True when the chain computed from `signingKey` matches (constant time). First-party caveats only. */
export function macaroonSignatureMatches(m: Macaroon, signingKey: Uint8Array): boolean {
  if (m.caveats.some((c) => c.vid !== null)) return false;
  const sig = macaroonChain(signingKey, m.identifier, m.caveats.map((c) => c.identifier));
  return sig.length === m.signature.length && timingSafeEqual(sig, m.signature);
}

// ---- V2 binary codec: byte 0x02, then fields `type ‖ uvarint length ‖ data`, EOS (0) closes a section.

function pushVarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

function pushField(out: number[], type: number, data: Uint8Array): void {
  out.push(type);
  pushVarint(out, data.length);
  for (const b of data) out.push(b);
}

export function encodeMacaroonV2(m: Macaroon): Uint8Array {
  const out: number[] = [VERSION_2];
  if (m.location) pushField(out, LOCATION, utf8.encode(m.location));
  pushField(out, IDENTIFIER, m.identifier);
  out.push(EOS);
  for (const c of m.caveats) {
    if (c.location) pushField(out, LOCATION, utf8.encode(c.location));
    pushField(out, IDENTIFIER, c.identifier);
    if (c.vid) pushField(out, VID, c.vid);
    out.push(EOS);
  }
  out.push(EOS);
  pushField(out, SIGNATURE, m.signature);
  return Uint8Array.from(out);
}

export class MacaroonFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MacaroonFormatError";
  }
}

/** Strict V2 decoder: field order as libmacaroons writes it, no trailing bytes; throws MacaroonFormatError. */
export function decodeMacaroonV2(buf: Uint8Array): Macaroon {
  let pos = 0;
  const fail = (why: string): never => {
    throw new MacaroonFormatError(why);
  };
  const peek = (): number => (pos < buf.length ? buf[pos]! : fail("truncated macaroon"));
  const varint = (): number => {
    let n = 0;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = peek();
      pos++;
      n += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) return n;
    }
    return fail("field length too long");
  };
  const field = (type: number): Uint8Array => {
    if (peek() !== type) fail(`expected field type ${type}, got ${buf[pos]}`);
    pos++;
    const len = varint();
    if (pos + len > buf.length) fail("truncated field");
    const data = buf.subarray(pos, pos + len);
    pos += len;
    return data;
  };
  const optional = (type: number): Uint8Array | null => (peek() === type ? field(type) : null);
  const text = (b: Uint8Array | null): string | null => {
    if (b === null) return null;
    try {
      return utf8Strict.decode(b);
    } catch {
      return fail("location is not UTF-8");
    }
  };
  const eos = () => (peek() === EOS ? void pos++ : fail("expected end of section"));

  if (peek() !== VERSION_2) fail("not a V2 binary macaroon");
  pos++;
  const location = text(optional(LOCATION));
  const identifier = field(IDENTIFIER);
  eos();
  const caveats: MacaroonCaveat[] = [];
  while (peek() !== EOS) {
    const cavLocation = text(optional(LOCATION));
    const cavId = field(IDENTIFIER);
    const vid = optional(VID);
    eos();
    caveats.push({ identifier: cavId, location: cavLocation, vid });
  }
  pos++;
  const signature = field(SIGNATURE);
  if (signature.length !== SIGNATURE_BYTES) fail("signature must be 32 bytes");
  if (pos !== buf.length) fail("unexpected data after the signature");
  return { location, identifier, caveats, signature };
}

const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;

/** `<prefix>_v1_` + base64url (no padding) of the V2 binary macaroon. */
export function encodeMacaroonToken(prefix: string, m: Macaroon): string {
  return `${prefix}_v1_${Buffer.from(encodeMacaroonV2(m)).toString("base64url")}`;
}

/** The macaroon in a token with one of `prefixes`; throws MacaroonFormatError when it does not decode. */
export function decodeMacaroonToken(token: string, prefixes: readonly string[]): Macaroon {
  for (const p of prefixes) {
    if (!token.startsWith(p) || !token.startsWith("_v1_", p.length)) continue;
    const body = token.slice(p.length + 4);
    if (!BASE64URL_RE.test(body) || body.length % 4 === 1) throw new MacaroonFormatError("not base64url");
    return decodeMacaroonV2(Buffer.from(body, "base64url"));
  }
  throw new MacaroonFormatError("unknown macaroon prefix");
}
