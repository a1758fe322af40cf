import type { Context } from "hono";
import { resolveClientIp, type CacheMode, type InvalidationListener, type Config, type DerivedTokenService, type ParsedIp, type ServiceContext, type Verifier } from "@talos/core";
import type { Logger } from "./logger.js";
import type { RequestObserver } from "./respond.js";
import type { AdminGuard } from "./admin-auth/guard.js";

/** The serve.http settings the HTTP layer itself reads: CORS, where the client IP comes from. */
export type HttpSettings = Pick<Config["serve"]["http"], "cors" | "client_ip_source">;

/**
 * Everything the route handlers need, built once by @talos/server (or a test) and injected; fixed
 * at creation: nothing is patched onto it afterwards.
 */
export interface AppDeps {
  /** the core verbs' context: config, store, clock, key crypto, mutation hooks */
  readonly ctx: ServiceContext;
  readonly verifier: Verifier;
  readonly http: HttpSettings;
  readonly logger: Logger;
  readonly version: string;
  /** derived tokens (JWT/macaroon minting and the JWKS); null until configured */
  readonly tokens: DerivedTokenService | null;
  /** resolves when the database answers and the schema is current; throws otherwise */
  ready(): Promise<void>;
  /** true once shutdown started: readiness fails, in-flight requests finish */
  draining(): boolean;
  /** once per request, after the response is ready (request log, metrics) */
  readonly observeRequest?: RequestObserver;
  /** requests being served (the http_requests_in_flight gauge): inc on arrival, dec when answered */
  readonly inFlight?: { inc(): void; dec(): void };
  /** the invalidations this instance makes or receives (GET cacheInvalidations:stream, docs/proxy.md) */
  readonly invalidations?: { subscribe(listener: InvalidationListener): () => void };
  /** serve.admin_auth; absent or null: mode none (no admin authentication) */
  readonly adminGuard?: AdminGuard | null;
  /**
   * Request-scoped state lives in AsyncLocalStorage (tracing.enabled: the active span): the fast
   * route then runs its body's stream events in the listener's async context (see FastExchange).
   */
  readonly asyncContext?: boolean;
}

/** What request-derived helpers read: headers by lower-case name and the socket peer. */
export interface RequestView {
  header(name: string): string | undefined;
  remoteAddress: string | undefined;
}

/** Socket peer address as seen by @hono/node-server (undefined under app.request in tests). */
export function remoteAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/** The Hono request as a RequestView. */
export function viewOf(c: Context): RequestView {
  return { header: (name) => c.req.header(name), remoteAddress: remoteAddress(c) };
}

export function clientIp(deps: AppDeps, c: Context): ParsedIp | null {
  return clientIpOf(deps, viewOf(c));
}

export function clientIpOf(deps: Pick<AppDeps, "http">, req: RequestView): ParsedIp | null {
  const source = deps.http.client_ip_source;
  return resolveClientIp(source, (name) => req.header(name), req.remoteAddress);
}

export function cacheMode(c: Context): CacheMode {
  return cacheModeOf(viewOf(c));
}

/** Cache-Control tokens no-cache / no-store (case-insensitive), and Pragma: no-cache (docs/verification.md#cache). */
export function cacheModeOf(req: RequestView): CacheMode {
  const cc = req.header("cache-control");
  const pragma = req.header("pragma");
  if (!cc && !pragma) return "default";
  const tokens = new Set((cc ?? "").split(",").map((t) => t.trim().toLowerCase()));
  if (tokens.has("no-store")) return "no-store";
  if (tokens.has("no-cache") || (pragma ?? "").toLowerCase().split(",").some((t) => t.trim() === "no-cache")) return "no-cache";
  return "default";
}
