import { createHash, hash, randomBytes, timingSafeEqual } from "node:crypto";
import { adminPrincipal, type AdminPrincipal } from "./permissions.js";

/** A configured admin token: only its hash is known (serve.admin_auth.tokens). */
export interface AdminTokenEntry {
  name: string;
  /** `sha256:` + lowercase hex SHA-256 of the token */
  hash: string;
  permissions: string[];
}

export const ADMIN_TOKEN_PREFIX = "talos_at_";
export const ADMIN_TOKEN_HASH = /^sha256:[0-9a-f]{64}$/;

/** A fresh admin token: 256 random bits, base64url, with a recognisable prefix (secret scanners). */
export function generateAdminToken(): string {
  return ADMIN_TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** The configuration form of a token's hash. Tokens are high-entropy, so a fast hash is right. */
export function hashAdminToken(token: string): string {
  return `sha256:${createHash("sha256").update(token, "utf8").digest("hex")}`;
}

/**
 * Matches a presented token against the configured hashes. Every entry is compared, each with
 * timingSafeEqual, so the time taken says nothing about which entry (or how much of one) matched.
 * Hashing is the check, so nothing is cached (a cache would have to keep tokens in memory):
 * one-shot crypto.hash costs ≈ 1 µs, half of a createHash object (BENCHMARKS.md#admin-authentication).
 */
export function createStaticTokenMatcher(entries: readonly AdminTokenEntry[]): (token: string) => AdminPrincipal | null {
  const table = entries.map((e) => ({
    digest: Buffer.from(e.hash.slice("sha256:".length), "hex"),
    principal: adminPrincipal(e.name, "token", e.permissions),
  }));
  return (token) => {
    const digest = hash("sha256", token, "buffer");
    let found: AdminPrincipal | null = null;
    for (const t of table) if (timingSafeEqual(t.digest, digest) && found === null) found = t.principal;
    return found;
  };
}
