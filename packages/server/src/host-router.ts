import type { IncomingMessage, RequestListener } from "node:http";
import { TalosError } from "@talos/core";
import { errorBody, requestIdFor, writePlain } from "@talos/http";
import type { Mode } from "./apps.js";
import type { NetworkStack } from "./network-stack.js";

/** Which stack answers a request: one immutable snapshot, swapped whole on reload. */
export interface Routing {
  /** multitenancy.enabled: pick by host; otherwise `nil` answers everything */
  readonly enabled: boolean;
  readonly trustForwardedHost: boolean;
  /** the nil network: every request when multitenancy is off; health and version for unknown hosts */
  readonly nil: NetworkStack;
  /** lower-case hostname without port → its network */
  readonly byHost: ReadonlyMap<string, NetworkStack>;
}

/** Routes that answer whatever the host (docs/multitenancy.md#unknown-hosts). */
const HOST_FREE = new Set(["/health/alive", "/health/ready", "/version"]);

/** `Host` as matched: lower case, port stripped, the first of a forwarded list. */
export function hostKey(header: string | undefined): string {
  if (!header) return "";
  let h = header;
  const comma = h.indexOf(",");
  if (comma >= 0) h = h.slice(0, comma);
  h = h.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

/** The network a request belongs to, or null for an unknown host. */
export function networkFor(r: Routing, req: IncomingMessage): NetworkStack | null {
  if (!r.enabled) return r.nil;
  const forwarded = r.trustForwardedHost ? req.headers["x-forwarded-host"] : undefined;
  const raw = typeof forwarded === "string" && forwarded !== "" ? forwarded : req.headers.host;
  return r.byHost.get(hostKey(raw)) ?? null;
}

/** The API listener of `mode` over whatever routing is current when each request arrives. */
export function hostRouter(mode: Mode, current: () => Routing): RequestListener {
  return (req, res) => {
    const r = current();
    const stack = networkFor(r, req);
    if (stack) return stack.listener(mode)(req, res);
    const url = req.url ?? "";
    const q = url.indexOf("?");
    if (HOST_FREE.has(q < 0 ? url : url.slice(0, q))) return r.nil.listener(mode)(req, res);
    unknownHost(req, res, r);
  };
}

function unknownHost(req: IncomingMessage, res: Parameters<RequestListener>[1], r: Routing): void {
  const given = req.headers["x-request-id"];
  const requestId = requestIdFor(typeof given === "string" ? given : undefined);
  const header = r.trustForwardedHost && typeof req.headers["x-forwarded-host"] === "string" ? req.headers["x-forwarded-host"] : req.headers.host;
  // the host is echoed back, so only a bounded, printable form of it
  const host = /^[\x21-\x7e]{1,253}$/.test(hostKey(header)) ? hostKey(header) : "";
  const err = new TalosError("not_found", host ? `no network is configured for host "${host}"` : "no network is configured for this host", { host });
  const body = errorBody(err);
  // node:http discards an unread request body itself once the response ends
  writePlain(res, requestId, { status: body.error.code, body });
}
