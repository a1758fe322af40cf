import type { Context } from "hono";
import { resolveClientIp, type CacheMode, type ParsedIp, type Runtime } from "@talos/core";
import type { Logger } from "./logger.js";
import type { RequestObserver } from "./app.js";

/** Derived-token surface (JWT/macaroon minting and the JWKS); null until configured. */
export interface TokenService {
  derive(input: DeriveInput, clientIp: ParsedIp | null): Promise<DeriveOutput>;
  /** public JWK set; throws TalosError internal_server_error when no asymmetric key is configured */
  jwks(): { keys: Record<string, unknown>[] };
}

export interface DeriveInput {
  credential: string;
  algorithm: number;
  ttlMs?: number;
  scopes?: string[];
  customClaims?: Record<string, unknown>;
}

export interface DeriveOutput {
  token: string;
  expireTime: number;
  scopes: string[];
  claims: Record<string, unknown>;
}

/** Everything the route handlers need, built once by the CLI (or a test) and injected. */
export interface AppDeps {
  runtime: Runtime;
  logger: Logger;
  version: string;
  tokens: TokenService | null;
  /** resolves when the database answers and the schema is current; throws otherwise */
  ready(): Promise<void>;
  /** true once shutdown started: readiness fails, in-flight requests finish */
  draining(): boolean;
  /** once per request, after the response is ready (request log, metrics) */
  observeRequest?: RequestObserver;
  /** requests being served (the http_requests_in_flight gauge): inc on arrival, dec when answered */
  inFlight?: { inc(): void; dec(): void };
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

export function clientIpOf(deps: AppDeps, req: RequestView): ParsedIp | null {
  const source = deps.runtime.ctx.config.serve.http.client_ip_source;
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
