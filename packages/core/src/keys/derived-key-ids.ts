import { createHmac } from "node:crypto";

/** Domain-separation labels: one HMAC secret yields independent keys per purpose (docs/derived-tokens.md#macaroon, docs/keys.md#page-tokens). */
const MACAROON_ROOT_KEY_LABEL = "talos/macaroon/v1/root-key";
const PAGE_TOKEN_KEY_LABEL = "talos/pagination/v1/cursor-key";

function derive(hmacSecret: string, label: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", Buffer.from(hmacSecret, "utf8")).update(label, "ascii").digest());
}

/** Macaroon root key: HMAC-SHA256(key = UTF-8 secret, message = "talos/macaroon/v1/root-key"). */
export function macaroonRootKey(hmacSecret: string): Uint8Array {
  return derive(hmacSecret, MACAROON_ROOT_KEY_LABEL);
}

/** Page-token key: HMAC-SHA256(key = UTF-8 secret, message = "talos/pagination/v1/cursor-key"). */
export function pageTokenKey(hmacSecret: string): Uint8Array {
  return derive(hmacSecret, PAGE_TOKEN_KEY_LABEL);
}
