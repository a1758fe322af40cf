import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ProxyConfig, ProxyRoute } from "@talos/core";
import { upgrade } from "undici";
import { findCredential, headerValue, stripCredential } from "./credential.js";
import { sendError } from "./respond.js";
import { endToEnd, type HeaderMap, type Upstream } from "./upstream.js";
import { cachedVerify, type VerifyAnswer, type VerifyDeps } from "./verify.js";

// identity headers only the proxy sets: a client's copies never reach the app
const IDENTITY = new Set(["x-talos-key-id", "x-talos-actor-id", "x-talos-scopes"]);

type Decision = { ok: true; headers: HeaderMap; target: string; responseHeaders: HeaderMap } | { ok: false; status: number; reason: string; message: string; headers: HeaderMap };

/** The longest path_prefix whose methods include the request's (no methods: all). */
function routeFor(routes: ProxyRoute[], method: string, path: string): ProxyRoute | null {
  let best: ProxyRoute | null = null;
  for (const r of routes) {
    if (!path.startsWith(r.path_prefix)) continue;
    if (r.methods.length > 0 && !r.methods.includes(method as ProxyRoute["methods"][number])) continue;
    if (!best || r.path_prefix.length > best.path_prefix.length) best = r;
  }
  return best;
}

function scopesSatisfy(r: ProxyRoute, scopes: string[]): boolean {
  if (r.scopes_all.some((s) => !scopes.includes(s))) return false;
  return r.scopes_any.length === 0 || r.scopes_any.some((s) => scopes.includes(s));
}

function rateHeaders(a: VerifyAnswer): HeaderMap {
  const h: HeaderMap = {};
  for (const k of ["ratelimit", "ratelimit-policy", "retry-after"]) if (a.headers[k] !== undefined) h[k] = a.headers[k]!;
  return h;
}

/** Authentication and authorisation of one gateway request: never fails open. */
async function decide(config: ProxyConfig, d: VerifyDeps, req: IncomingMessage, host: string, own: HeaderMap): Promise<Decision> {
  const headers = endToEnd(req.headers);
  for (const h of IDENTITY) delete headers[h];
  const url = new URL(req.url ?? "/", "http://proxy.invalid");
  const found = findCredential(config.gateway, headers, url);
  const unauthenticated = (message: string): Decision => ({ ok: false, status: 401, reason: "unauthorized", message, headers: { "www-authenticate": "Bearer" } });
  if (!found) return unauthenticated("credential required");
  const peer = req.socket.remoteAddress ?? "";
  let a: VerifyAnswer;
  try {
    // the client's own forwarding headers are not trusted: the server sees the socket peer
    const vh: HeaderMap = { ...own, "content-type": "application/json", "x-forwarded-for": peer, "x-real-ip": peer };
    a = await cachedVerify(d, { host, credential: found.credential, body: Buffer.from(JSON.stringify({ credential: found.credential })), headers: vh, remoteAddress: peer, bypass: false });
  } catch {
    return { ok: false, status: 503, reason: "upstream_unavailable", message: "Talos is not reachable", headers: {} };
  }
  const v = a.json;
  if (a.status !== 200 || !v) return { ok: false, status: 503, reason: "upstream_unavailable", message: "Talos could not verify the credential", headers: {} };
  if (v["is_valid"] !== true) {
    const code = v["error_code"];
    if (code === "VERIFICATION_ERROR_RATE_LIMITED") return { ok: false, status: 429, reason: "too_many_requests", message: "rate limit exceeded", headers: rateHeaders(a) };
    if (code === "VERIFICATION_ERROR_IP_NOT_ALLOWED") return { ok: false, status: 403, reason: "ip_not_allowed", message: "client IP not allowed", headers: {} };
    if (code === "VERIFICATION_ERROR_INTERNAL") return { ok: false, status: 503, reason: "upstream_unavailable", message: "Talos could not verify the credential", headers: {} };
    return unauthenticated("invalid credential");
  }
  const scopes = Array.isArray(v["scopes"]) ? (v["scopes"] as string[]) : [];
  const rule = routeFor(config.routes, req.method ?? "GET", url.pathname);
  if (rule && !scopesSatisfy(rule, scopes)) return { ok: false, status: 403, reason: "forbidden", message: "missing scope for this route", headers: {} };
  if (config.gateway.strip_credential) stripCredential(config.gateway, found, headers, url);
  headers["x-talos-key-id"] = String(v["key_id"] ?? "");
  headers["x-talos-actor-id"] = headerValue(String(v["actor_id"] ?? ""), false);
  headers["x-talos-scopes"] = scopes.map((s) => headerValue(s, true)).join(",");
  return { ok: true, headers, target: url.pathname + url.search, responseHeaders: rateHeaders(a) };
}

/** Gateway mode (docs/proxy.md#gateway): every request needs a Talos key; bodies stream both ways. */
export function gatewayHandler(config: ProxyConfig, d: VerifyDeps, upstream: Upstream, own: HeaderMap) {
  return async (req: IncomingMessage, res: ServerResponse, host: string): Promise<boolean> => {
    const r = await decide(config, d, req, host, own);
    if (!r.ok) {
      req.resume();
      sendError(res, r.status, r.reason, r.message, r.headers);
      return false;
    }
    try {
      // the client sees its quota (RateLimit, RateLimit-Policy) on every answer, as from the server
      await upstream.forward(req, res, { headers: r.headers, target: r.target, responseHeaders: r.responseHeaders });
    } catch (e) {
      if (res.headersSent) throw e;
      sendError(res, 502, "bad_gateway", "upstream app is not reachable");
    }
    return false;
  };
}

/** WebSocket (and other) upgrades: authenticated like any request, then the two sockets are joined. */
export function gatewayUpgrade(
  config: ProxyConfig,
  d: VerifyDeps,
  upstream: Upstream,
  own: HeaderMap,
  hostAllowed: (req: IncomingMessage) => boolean,
  hostOf: (req: IncomingMessage) => string,
  logger: { warn(f: Record<string, unknown>, m: string): void },
) {
  const refuse = (socket: Duplex, status: number, text: string, extra = "") => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n${extra}\r\n`);
  };
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    void (async () => {
      if (!hostAllowed(req)) return refuse(socket, 403, "Forbidden");
      const r = await decide(config, d, req, hostOf(req), own);
      if (!r.ok) return refuse(socket, r.status, r.reason, r.status === 401 ? "www-authenticate: Bearer\r\n" : "");
      const protocol = String(req.headers["upgrade"] ?? "websocket");
      try {
        const up = await upgrade(upstream.origin + upstream.path(r.target), { dispatcher: upstream.dispatcher, method: (req.method ?? "GET") as "GET", headers: r.headers, protocol });
        const lines = [`HTTP/1.1 101 Switching Protocols`, `connection: upgrade`, `upgrade: ${protocol}`];
        for (const [k, v] of Object.entries(up.headers)) {
          if (k === "connection" || k === "upgrade" || v === undefined) continue;
          for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
        }
        socket.write(lines.join("\r\n") + "\r\n\r\n");
        if (head.length > 0) up.socket.write(head);
        up.socket.on("error", () => socket.destroy());
        socket.on("error", () => up.socket.destroy());
        up.socket.pipe(socket).pipe(up.socket);
      } catch (e) {
        logger.warn({ err: e instanceof Error ? e.message : String(e) }, "upgrade to the upstream app failed");
        refuse(socket, 502, "Bad Gateway");
      }
    })();
  };
}
