import { randomBytes } from "node:crypto";

let lastMs = 0;
let seq = 0;

/**
 * RFC 9562 UUIDv7: 48-bit ms timestamp, then a 12-bit counter (rand_a, method 1) so ids made in
 * one millisecond by this process still sort in creation order. Node 20 has no randomUUIDv7 and
 * the `uuid` in our tree (8.x) predates v7.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = 0;
  } else if (++seq > 0xfff) {
    lastMs++; // counter exhausted: borrow the next millisecond (monotonic, at most ms ahead)
    seq = 0;
  }
  const b = randomBytes(16);
  const ms = lastMs;
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | (seq >> 8);
  b[7] = seq & 0xff;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
