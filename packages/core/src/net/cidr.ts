import { isIPv4, isIPv6 } from "node:net";
import type { ClientIpSource } from "../config/types.js";

/**
 * An IP address as 32-bit words (1 for IPv4, 4 for IPv6, big-endian, stored as signed int32 so
 * masking needs no unsigned conversion). IPv4-mapped IPv6 addresses are IPv4 (docs/verification.md#pipeline step 5).
 */
export interface ParsedIp {
  family: 4 | 6;
  words: Int32Array;
  /** the address text without brackets or zone, lower-cased; mapped addresses in dotted IPv4 form */
  text: string;
}

/** A network: `words` already masked, so a match is (ip & mask) === words, word by word. */
export interface Cidr {
  family: 4 | 6;
  prefix: number;
  words: Int32Array;
  masks: Int32Array;
}

// The longest address text plus a zone name; anything longer is not worth parsing.
const MAX_IP_CHARS = 128;
const PREFIX_RE = /^(?:0|[1-9][0-9]{0,2})$/;
// Interface names or numeric scope ids; anything else (spaces, commas) is not an address.
const ZONE_RE = /^[A-Za-z0-9_.-]+$/;

function v4Word(text: string): number {
  let word = 0;
  for (const octet of text.split(".")) word = (word << 8) | Number(octet);
  return word;
}

/** Eight 16-bit groups packed into four words; `text` must already be valid IPv6 without a zone. */
function v6Words(text: string): Int32Array {
  let s = text;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".", lastColon)) {
    // Rewrite an embedded dotted IPv4 tail as its two hex groups.
    const v4 = v4Word(s.slice(lastColon + 1));
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const groups = (part: string): number[] => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const gap = s.indexOf("::");
  let all = groups(s);
  if (gap >= 0) {
    const head = groups(s.slice(0, gap));
    const rest = groups(s.slice(gap + 2));
    all = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  const words = new Int32Array(4);
  for (let i = 0; i < 4; i++) words[i] = ((all[2 * i] ?? 0) << 16) | (all[2 * i + 1] ?? 0);
  return words;
}

const isMapped = (w: Int32Array): boolean => w[0] === 0 && w[1] === 0 && w[2] === 0xffff;

function fromWord(word: number): ParsedIp {
  const text = [word >>> 24, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff].join(".");
  return { family: 4, words: Int32Array.of(word), text };
}

/** Address text without brackets or zone; null unless it is a valid IPv4 or IPv6 address. */
function parseBareIp(text: string): ParsedIp | null {
  if (isIPv4(text)) return fromWord(v4Word(text));
  if (text.includes("%") || !isIPv6(text)) return null;
  const words = v6Words(text);
  if (isMapped(words)) return fromWord(words[3]!);
  return { family: 6, words, text: text.toLowerCase() };
}

/**
 * Parses an IPv4 or IPv6 address. Accepts `[v6]` brackets and a `%zone` suffix on IPv6 (both
 * dropped); IPv4-mapped IPv6 becomes IPv4. Null for anything else, ports and whitespace included.
 */
export function parseIp(text: string): ParsedIp | null {
  if (text.length === 0 || text.length > MAX_IP_CHARS) return null;
  let s = text;
  const bracketed = s.startsWith("[");
  if (bracketed) {
    if (!s.endsWith("]")) return null;
    s = s.slice(1, -1);
  }
  const zone = s.indexOf("%");
  if (zone >= 0) {
    if (!ZONE_RE.test(s.slice(zone + 1))) return null;
    s = s.slice(0, zone);
  }
  // Brackets and zones belong to IPv6 only.
  if ((bracketed || zone >= 0) && isIPv4(s)) return null;
  return parseBareIp(s);
}

function masksFor(prefix: number, count: number): Int32Array {
  const masks = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const bits = Math.min(32, Math.max(0, prefix - 32 * i));
    masks[i] = bits === 0 ? 0 : -1 << (32 - bits);
  }
  return masks;
}

function makeCidr(family: 4 | 6, words: Int32Array, prefix: number): Cidr {
  const masks = masksFor(prefix, words.length);
  const net = words.map((w, i) => w & masks[i]!);
  return { family, prefix, words: net, masks };
}

/**
 * Parses `address/prefix` (IPv4 /0–32, IPv6 /0–128; host bits allowed and masked off, as Go's
 * ParseCIDR does). An IPv4-mapped IPv6 network of /96 or longer becomes the IPv4 network.
 */
export function parseCidr(text: string): Cidr | null {
  if (text.length > MAX_IP_CHARS) return null;
  const slash = text.indexOf("/");
  if (slash < 0) return null;
  const addr = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!PREFIX_RE.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (isIPv4(addr)) return prefix <= 32 ? makeCidr(4, Int32Array.of(v4Word(addr)), prefix) : null;
  if (addr.includes("%") || !isIPv6(addr) || prefix > 128) return null;
  const words = v6Words(addr);
  if (isMapped(words) && prefix >= 96) return makeCidr(4, Int32Array.of(words[3]!), prefix - 96);
  return makeCidr(6, words, prefix);
}

/** Parses a stored list once so the hot path only masks; invalid entries are dropped (they match nothing). */
export function compileCidrs(texts: readonly string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const t of texts) {
    const c = parseCidr(t);
    if (c) out.push(c);
  }
  return out;
}

/** True when the address lies in any of the networks; IPv4 never matches an IPv6 network. */
export function ipInCidrs(ip: ParsedIp, cidrs: readonly Cidr[]): boolean {
  for (const c of cidrs) {
    if (c.family !== ip.family) continue;
    let match = true;
    for (let i = 0; i < c.words.length; i++) {
      if ((ip.words[i]! & c.masks[i]!) !== c.words[i]) {
        match = false;
        break;
      }
    }
    if (match) return true;
  }
  return false;
}

const HEADER_BY_SOURCE: Readonly<Record<ClientIpSource, string | null>> = {
  CLIENT_IP_SOURCE_UNSPECIFIED: null,
  CLIENT_IP_SOURCE_REMOTE_ADDR: null,
  CLIENT_IP_SOURCE_CF_CONNECTING_IP: "cf-connecting-ip",
  CLIENT_IP_SOURCE_X_FORWARDED_FOR: "x-forwarded-for",
  CLIENT_IP_SOURCE_X_REAL_IP: "x-real-ip",
  CLIENT_IP_SOURCE_TRUE_CLIENT_IP: "true-client-ip",
};

/**
 * docs/configuration.md `serve.http.client_ip_source`. An absent or blank header falls back to the socket
 * peer; a present but unparseable value gives null (IP unknown, so restrictions fail closed).
 * `headers` is called with lower-case names.
 */
export function resolveClientIp(
  source: ClientIpSource,
  headers: (name: string) => string | undefined,
  remoteAddr: string | undefined,
): ParsedIp | null {
  const name = HEADER_BY_SOURCE[source] ?? null;
  const value = name === null ? undefined : headers(name)?.trim();
  if (!value) return remoteAddr === undefined ? null : parseIp(remoteAddr);
  if (source !== "CLIENT_IP_SOURCE_X_FORWARDED_FOR") return parseIp(value);
  const comma = value.indexOf(",");
  return parseIp((comma < 0 ? value : value.slice(0, comma)).trim());
}
