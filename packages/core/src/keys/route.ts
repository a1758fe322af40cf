import { parseIssuedKey, type ParsedIssuedKey } from "./issued-key.js";

export type CredentialRoute =
  | { type: "jwt" }
  | { type: "macaroon"; prefix: string }
  | { type: "issued"; parsed: ParsedIssuedKey }
  | { type: "imported" };

export interface RouteOptions {
  /** current and retired macaroon prefixes */
  macaroonPrefixes: readonly string[];
}

const JWT_RE = /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const VERSION_TAG = "_v1_";

/** docs/verification.md#credential-routing: the first matching rule decides; anything unrecognised is an imported key. */
export function routeCredential(credential: string, opts: RouteOptions): CredentialRoute {
  if (JWT_RE.test(credential)) return { type: "jwt" };
  for (const prefix of opts.macaroonPrefixes) {
    // Two startsWith calls avoid building `<p>_v1_` per prefix on the hot path.
    if (credential.startsWith(prefix) && credential.startsWith(VERSION_TAG, prefix.length)) {
      return { type: "macaroon", prefix };
    }
  }
  const parsed = parseIssuedKey(credential);
  if (parsed) return { type: "issued", parsed };
  return { type: "imported" };
}
