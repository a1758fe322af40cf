/** Key id shapes shared by the key formats (docs/verification.md#pipeline, docs/keys.md#issued-key-format, docs/keys.md#imported-key-ids). */

/** 8-4-4-4-12 hex digits, any case; also a fragment of the issued-key payload pattern. */
export const UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

const UUID_RE = new RegExp(`^${UUID_PATTERN}$`);
const IMPORTED_KEY_ID_RE = /^[0-9a-f]{64}$/;

/** True for a UUID in canonical hyphenated form, case-insensitively (any version). */
export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** True for an imported-key id: 64 lowercase hex characters (docs/keys.md#imported-key-ids). */
export function isImportedKeyId(s: string): boolean {
  return IMPORTED_KEY_ID_RE.test(s);
}
