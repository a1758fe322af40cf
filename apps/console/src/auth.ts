import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The admin permissions (the admin-authentication issue's table); `admin` implies every other one. */
export type Permission = "keys:read" | "keys:write" | "keys:verify" | "tokens:derive" | "events:read" | "admin";

/** Who is signed in: a name for the audit log (never a credential) and what they may do. */
export interface ConsolePrincipal {
  readonly subject: string;
  readonly permissions: readonly string[];
}

/**
 * The seam to admin authentication: `required` turns the sign-in on; `authenticate` checks an admin
 * token or IdP JWT pasted into the sign-in form and returns the principal, or null when refused.
 */
export interface ConsoleAuthenticator {
  readonly required: boolean;
  /** null: refused; "throttled": too many failures from this client, try later */
  authenticate(token: string, client: ConsoleClient): Promise<ConsolePrincipal | null | "throttled">;
}

/** The signing-in browser as admin authentication's failure throttle sees it. */
export interface ConsoleClient {
  header(name: string): string | undefined;
  readonly remoteAddress: string | undefined;
}

/** Without admin authentication everybody may do everything (the console says so on every page). */
export const ANONYMOUS: ConsolePrincipal = { subject: "", permissions: ["admin"] };

export function can(p: ConsolePrincipal, permission: Permission): boolean {
  return p.permissions.includes(permission) || p.permissions.includes("admin");
}

export const SESSION_COOKIE = "talos_console_session";
export const CSRF_COOKIE = "talos_console_csrf";

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** Keys for the session cookie and CSRF tokens, derived from the HMAC secret (so every worker shares them). */
export function consoleKeys(hmacSecret: string) {
  const derive = (label: string) => createHmac("sha256", hmacSecret).update(`talos-console:${label}:v1`).digest();
  return { session: derive("session"), csrf: derive("csrf") };
}
export type ConsoleKeys = ReturnType<typeof consoleKeys>;

function mac(key: Buffer, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

function equal(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A signed, stateless session (subject, permissions, expiry): it holds no credential, and any worker
 * of a cluster can check it. Sign-out clears the cookie; the lifetime is short.
 */
export function sealSession(keys: ConsoleKeys, p: ConsolePrincipal, expiresAtMs: number): string {
  const body = b64(JSON.stringify({ s: p.subject, p: p.permissions, e: expiresAtMs }));
  return `${body}.${b64(mac(keys.session, body))}`;
}

export function openSession(keys: ConsoleKeys, cookie: string | undefined, nowMs: number): ConsolePrincipal | null {
  if (!cookie) return null;
  const dot = cookie.indexOf(".");
  if (dot <= 0) return null;
  const body = cookie.slice(0, dot);
  if (!equal(Buffer.from(cookie.slice(dot + 1), "base64url"), mac(keys.session, body))) return null;
  try {
    const v = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as { s: unknown; p: unknown; e: unknown };
    if (typeof v.s !== "string" || !Array.isArray(v.p) || typeof v.e !== "number" || v.e <= nowMs) return null;
    return { subject: v.s, permissions: v.p.filter((x): x is string => typeof x === "string") };
  } catch {
    return null;
  }
}

/** A fresh random value for the CSRF cookie. */
export const newCsrfSeed = () => b64(randomBytes(32));

/** The form token for a CSRF cookie: an HMAC of it, so a token cannot be made without the server's key. */
export function csrfToken(keys: ConsoleKeys, seed: string): string {
  return b64(mac(keys.csrf, seed));
}

export function csrfValid(keys: ConsoleKeys, seed: string | undefined, token: unknown): boolean {
  if (!seed || typeof token !== "string" || token === "") return false;
  return equal(Buffer.from(token, "base64url"), mac(keys.csrf, seed));
}
