import { AsyncLocalStorage } from "node:async_hooks";
import {
  TalosError,
  allows,
  createClientCertMatcher,
  createJwtAuthenticator,
  createStaticTokenMatcher,
  type AdminPrincipal,
  type ClientCertificate,
  type Config,
  type Permission,
  type RateLimiter,
} from "@talos/core";
import { resolveClientIp, type ClientIpSource } from "@talos/core";
import { errorBody, type PlainResponse } from "../respond.js";

/** A request as admin authentication reads it (a RequestView fits); `peerCertificate` only on TLS connections. */
export interface AdminAuthRequest {
  header(name: string): string | undefined;
  remoteAddress: string | undefined;
  /** the client certificate when the TLS handshake verified it against serve.http.tls.client_ca_path */
  peerCertificate?(): ClientCertificate | null;
}

/** Admin credentials on routes where `Authorization` carries the customer's key (GET /gateway/verify). */
export const ADMIN_AUTHORIZATION_HEADER = "talos-admin-authorization";

export interface AdminGuard {
  /** The caller, throttled like check but without a permission (the console's sign-in): else 401 or 429. */
  signIn(req: AdminAuthRequest): Promise<AdminPrincipal | PlainResponse>;
  /**
   * The principal when the request may go on, else the refusal (401, 403 or 429) in the envelope.
   * A matching static token is answered synchronously (no promise: the verify hot path).
   */
  check(req: AdminAuthRequest, permission: Permission, opts?: { header?: string }): AdminPrincipal | PlainResponse | Promise<AdminPrincipal | PlainResponse>;
}

const CHALLENGE = 'Bearer realm="talos-admin"';
const storage = new AsyncLocalStorage<AdminPrincipal>();

/** The admin principal of the request being handled (audit log, events), or undefined. */
export function currentAdminPrincipal(): AdminPrincipal | undefined {
  return storage.getStore();
}

/** Runs `fn` with `principal` as the current one. */
export function withAdminPrincipal<T>(principal: AdminPrincipal, fn: () => T): T {
  return storage.run(principal, fn);
}

/** The parts of a (TLS) socket read here. */
export interface TlsSocketLike {
  remoteAddress?: string;
  authorized?: boolean;
  getPeerCertificate?(): ClientCertificate | null;
}

/** The client certificate, only when the TLS handshake verified it against the client CA. */
export function peerOf(socket: TlsSocketLike | undefined): ClientCertificate | null {
  if (!socket?.authorized || !socket.getPeerCertificate) return null;
  const cert = socket.getPeerCertificate();
  return cert && Object.keys(cert).length > 0 ? cert : null;
}

export const isRefusal = (v: AdminPrincipal | PlainResponse): v is PlainResponse => "status" in v;

function refusal(err: TalosError, headers: Record<string, string>): PlainResponse {
  const body = errorBody(err);
  return { status: body.error.code, body, headers };
}

/** `Bearer <token>`, scheme case-insensitive; "" when absent or in another scheme. */
function bearer(value: string | undefined): string {
  if (!value) return "";
  const m = /^[ \t]*bearer[ \t]+(\S+)[ \t]*$/i.exec(value);
  return m ? m[1]! : "";
}

interface GuardDeps {
  limiter: RateLimiter;
  now: () => number;
  http: { client_ip_source: ClientIpSource };
}

/**
 * serve.admin_auth (docs/admin-auth.md): any configured mode that succeeds authenticates. Failed
 * attempts are counted per client IP with GCRA on the server's rate limiter; past the quota that IP
 * gets 429 without its credential being checked, so guessing gains nothing by speed.
 */
export function createAdminGuard(cfg: Config["serve"]["admin_auth"], deps: GuardDeps): AdminGuard {
  const modes = new Set(cfg.mode);
  const token = modes.has("tokens") ? createStaticTokenMatcher(cfg.tokens) : null;
  const jwt = modes.has("jwt") ? createJwtAuthenticator(cfg.jwt, deps.now) : null;
  const cert = modes.has("mtls") ? createClientCertMatcher(cfg.mtls.clients) : null;
  const { quota, window } = cfg.throttle;
  /** client IP → ms until which it is refused (set when the limiter refused a failure) */
  const blocked = new Map<string, number>();

  const credentialOf = (req: AdminAuthRequest, header: string) =>
    bearer(req.header(header)) || (header === "authorization" ? bearer(req.header(ADMIN_AUTHORIZATION_HEADER)) : "");

  async function identify(req: AdminAuthRequest, header: string): Promise<{ principal: AdminPrincipal | null; presented: boolean }> {
    const credential = credentialOf(req, header);
    const peer = cert ? (req.peerCertificate?.() ?? null) : null;
    if (peer && cert) {
      const p = cert(peer);
      if (p) return { principal: p, presented: true };
    }
    if (credential === "") return { principal: null, presented: peer !== null };
    const p = token?.(credential) ?? null;
    if (p) return { principal: p, presented: true };
    if (jwt && credential.split(".").length === 3) {
      try {
        return { principal: await jwt(credential), presented: true };
      } catch {
        throw new TalosError("service_unavailable", "the identity provider's key set cannot be fetched");
      }
    }
    return { principal: null, presented: true };
  }

  const ipOf = (req: AdminAuthRequest) => resolveClientIp(deps.http.client_ip_source, (n) => req.header(n), req.remoteAddress)?.text ?? "unknown";

  return {
    signIn: (req) => admit(req, "authorization"),
    check(req, permission, opts = {}) {
      const header = opts.header ?? "authorization";
      // Same answer as admit() when no IP is throttled and no certificate could win first (mtls
      // off), without its promises: a few µs per request on verify (BENCHMARKS.md#admin-authentication).
      if (token && !cert && blocked.size === 0) {
        const principal = token(credentialOf(req, header));
        if (principal) return permitted(principal, permission);
      }
      return admit(req, header).then((principal) => (isRefusal(principal) ? principal : permitted(principal, permission)));
    },
  };

  function permitted(principal: AdminPrincipal, permission: Permission): AdminPrincipal | PlainResponse {
    if (allows(principal, permission)) return principal;
    return refusal(new TalosError("forbidden", `permission ${permission} required`, { permission }), {
      "WWW-Authenticate": `${CHALLENGE}, error="insufficient_scope", scope="${permission}"`,
    });
  }

  /** Who the caller is, or the refusal: 429 while its IP is throttled, 401 for a missing or bad credential. */
  async function admit(req: AdminAuthRequest, header: string): Promise<AdminPrincipal | PlainResponse> {
    const ip = blocked.size === 0 ? "" : ipOf(req);
    const until = ip === "" ? undefined : blocked.get(ip);
    const now = deps.now();
    if (until !== undefined) {
      if (now < until) return tooMany(until - now);
      blocked.delete(ip);
    }
    const { principal, presented } = await identify(req, header);
    if (principal === null) {
      if (presented) {
        const key = ipOf(req);
        const d = await deps.limiter.take(`admin-auth:${key}`, quota, window, now).catch(() => null);
        if (d && !d.allowed) {
          if (blocked.size > 100_000) blocked.clear();
          blocked.set(key, now + d.retryAfterS * 1000);
          return tooMany(d.retryAfterS * 1000);
        }
      }
      const challenge = presented ? `${CHALLENGE}, error="invalid_token"` : CHALLENGE;
      const message = presented ? "the admin credential is not valid" : "the admin API needs a credential (Authorization: Bearer)";
      return refusal(new TalosError("unauthorized", message), { "WWW-Authenticate": challenge });
    }
    return principal;
  }
}

function tooMany(ms: number): PlainResponse {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return refusal(new TalosError("too_many_requests", "too many failed admin authentications from this address"), { "Retry-After": String(s) });
}
