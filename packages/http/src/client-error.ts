import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { TalosError, type ErrorId } from "@talos/core";
import { errorBody, requestIdFor, SECURITY_HEADERS, writePlain } from "./respond.js";

/**
 * Answers for the errors node:http detects before any handler runs (its 'clientError' event: parse
 * errors, oversized heads, header/request timeouts; CONNECT, an unmet Expect, a missing Host), in
 * the same envelope, with the same security headers and X-Request-ID as every other response.
 * Node's own answers carry neither.
 */

/** Node's maximum request head (request line plus headers), --max-http-header-size. */
const MAX_HEAD_BYTES = 16 * 1024;
/** How long an answered socket stays half-open so the client reads the answer before the close. */
const LINGER_MS = 1_000;

const ANSWERED = new WeakSet<Duplex>();

const RAW_REQUEST_ID = /\nx-request-id:[ \t]*([^\r\n]*)/i;

/** The error id and message for a node:http client error code. */
export function clientErrorFor(code: string | undefined): { id: ErrorId; message: string } {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return { id: "request_header_fields_too_large", message: `the request line and headers exceed ${MAX_HEAD_BYTES} bytes` };
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return { id: "request_timeout", message: "the request did not arrive in time" };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return { id: "request_too_large", message: "chunk extensions are too large" };
    case "HPE_INVALID_METHOD":
      return { id: "bad_request", message: "unknown HTTP method" };
    default:
      return { id: "bad_request", message: "malformed HTTP request" };
  }
}

export interface ClientErrorAnswer {
  status: number;
  requestId: string;
  /** the request in flight when the error hit (a timed-out body), if any */
  req: IncomingMessage | undefined;
  bytesOut: number;
}

/** Requests whose body was cut by the request timeout (answered 408 here): see clientAbortStatus. */
const TIMED_OUT = new WeakSet<IncomingMessage>();

/**
 * A 'clientError' listener's work: writes the envelope when the connection still allows a response
 * (writable, no response head sent yet), then closes it. Returns what was answered, or null.
 */
export function writeClientError(err: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): ClientErrorAnswer | null {
  // a parser in error state reports again on every further chunk: answer once
  if (ANSWERED.has(socket)) return null;
  ANSWERED.add(socket);
  const pending = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
  if (err.code === "ECONNRESET" || !socket.writable || pending?.headersSent) {
    socket.destroy();
    return null;
  }
  const { id, message } = clientErrorFor(err.code);
  if (pending && err.code === "ERR_HTTP_REQUEST_TIMEOUT") TIMED_OUT.add(pending.req);
  // a head that failed to parse has no parsed headers: its X-Request-ID and method are read raw
  const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.toString("latin1", 0, MAX_HEAD_BYTES) : "";
  const given = pending ? pending.req.headers["x-request-id"] : RAW_REQUEST_ID.exec(raw)?.[1]?.trim();
  const head = pending ? pending.req.method === "HEAD" : raw.startsWith("HEAD ");
  const answer = writeSocketError(socket, new TalosError(id, message), given, head);
  return { ...answer, req: pending?.req };
}

/**
 * The envelope written straight to a socket that has no ServerResponse (or whose response node
 * gave up on), with Connection: close; the socket is half-closed, then dropped after a linger.
 */
export function writeSocketError(
  socket: Duplex,
  err: TalosError,
  givenRequestId: string | string[] | undefined,
  /** a HEAD request: the head only (with the body's length), as a HEAD client reads it */
  headOnly = false,
): { status: number; requestId: string; bytesOut: number } {
  ANSWERED.add(socket);
  const envelope = errorBody(err);
  const status = envelope.error.code;
  const requestId = requestIdFor(typeof givenRequestId === "string" ? givenRequestId : undefined);
  const body = JSON.stringify(envelope);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    "content-type: application/json",
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    ...SECURITY_HEADERS.map(([k, v]) => `${k}: ${v}`),
    "connection: close",
  ];
  // half-close, then drop the rest: closing with unread input would send a reset, which can
  // discard the answer before the client reads it
  socket.end(`${head.join("\r\n")}\r\n\r\n${headOnly ? "" : body}`);
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
  return { status, requestId, bytesOut: headOnly ? 0 : Buffer.byteLength(body) };
}

/**
 * The status to record for a request whose body read failed because its connection went away:
 * 408 when the request timeout cut it (the client got the 408 envelope), 499 when the client left
 * (docs/wire.md#error-ids: logged only); null when the request is intact (the failure is something else).
 */
export function clientAbortStatus(req: IncomingMessage): 408 | 499 | null {
  if (req.complete) return null;
  if (TIMED_OUT.has(req)) return 408;
  return req.destroyed ? 499 : null;
}

/**
 * Answers, in the envelope and with Connection: close, a request refused before routing (an
 * unmet Expect, no Host): node:http would answer these itself, without envelope or request id.
 */
export function writeEarlyError(req: IncomingMessage, res: ServerResponse, err: TalosError): { status: number; requestId: string; bytesOut: number } {
  const requestId = requestIdFor(typeof req.headers["x-request-id"] === "string" ? req.headers["x-request-id"] : undefined);
  const body = errorBody(err);
  res.shouldKeepAlive = false;
  const bytesOut = writePlain(res, requestId, { status: body.error.code, body, headers: { connection: "close" } });
  return { status: body.error.code, requestId, bytesOut };
}
