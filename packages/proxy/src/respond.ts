import type { ServerResponse } from "node:http";
import type { HeaderMap } from "./upstream.js";

const STATUS: Record<number, string> = {
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  413: "RESOURCE_EXHAUSTED",
  429: "RESOURCE_EXHAUSTED",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
};

/** The server's error envelope (docs/wire.md#errors), written by the proxy itself. */
export function sendError(res: ServerResponse, code: number, reason: string, message: string, headers: HeaderMap = {}): void {
  const body = {
    error: {
      code,
      message,
      status: STATUS[code] ?? "UNKNOWN",
      details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: reason.toUpperCase(), domain: "www.ory.com/talos", metadata: {} }],
    },
  };
  sendJson(res, code, body, headers);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: HeaderMap = {}): void {
  const raw = Buffer.from(JSON.stringify(body));
  send(res, status, raw, { "content-type": "application/json", ...headers });
}

export function send(res: ServerResponse, status: number, raw: Buffer, headers: HeaderMap): void {
  res.writeHead(status, { ...headers, "content-length": String(raw.length) });
  res.end(raw);
}
