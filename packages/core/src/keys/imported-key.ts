import { createHash } from "node:crypto";

export { isImportedKeyId } from "./ids.js";

const ZERO = new Uint8Array([0]);

/**
 * docs/keys.md#imported-key-ids: lowercase_hex(SHA-512/256(nid ‖ 0x00 ‖ raw_key)). The nid is lowercased so any
 * spelling of the network UUID gives the canonical id; the raw key is hashed exactly as sent.
 */
export function importedKeyId(nid: string, rawKey: string): string {
  return createHash("sha512-256").update(nid.toLowerCase(), "utf8").update(ZERO).update(rawKey, "utf8").digest("hex");
}
