import { base58 } from "@scure/base";

/** Bitcoin-alphabet Base58 (docs/keys.md#issued-key-format): big-endian integer, each leading 0x00 byte becomes `1`. */
export function base58Encode(bytes: Uint8Array): string {
  return base58.encode(bytes);
}

/**
 * Inverse of base58Encode; null when the text holds a character outside the alphabet.
 * Decoding is quadratic in the length, so callers bound the input length first.
 */
export function base58Decode(text: string): Uint8Array | null {
  try {
    return base58.decode(text);
  } catch {
    return null;
  }
}
