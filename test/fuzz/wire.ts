/**
 * Sending fuzz requests over real sockets: node:http with keep-alive for what its client allows,
 * raw node:net bytes for what it refuses (bad methods, bare LF, NUL, missing Host, huge heads).
 */
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";

export interface WireRequest {
  method: string;
  /** request-target exactly as sent */
  path: string;
  headers: [string, string][];
  body?: Buffer;
  /** when set, these bytes are the whole request (method/path/headers are only labels) */
  raw?: Buffer;
}

export interface WireResponse {
  status: number;
  /** lower-case names; repeated headers joined with ", " */
  headers: Record<string, string>;
  /** the header block as received, for the secret scan */
  headText: string;
  body: Buffer;
}

export type Outcome = { ok: true; res: WireResponse } | { ok: false; error: string };

export function createAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 1000 });
}

/** One request through node:http; a client-side validation error falls back to raw bytes. */
export function send(port: number, agent: Agent, req: WireRequest, timeoutMs: number): Promise<Outcome> {
  if (req.raw) return sendRaw(port, req.raw, req.method === "HEAD", timeoutMs);
  // a large body the server refuses early (413) can fail its write after node:http has let go of
  // the socket's error listener (an uncaught EPIPE): raw sockets keep theirs
  if (req.body && req.body.length > 65_536) return sendRaw(port, serializeRequest(port, req), req.method === "HEAD", timeoutMs);
  let r: ReturnType<typeof httpRequest>;
  try {
    r = httpRequest({
      host: "127.0.0.1",
      port,
      agent,
      method: req.method,
      path: req.path,
      headers: [["Host", `127.0.0.1:${port}`], ...req.headers, ...(req.body ? [["Content-Length", String(req.body.length)]] : [])].flat(),
    });
  } catch {
    return sendRaw(port, serializeRequest(port, req), req.method === "HEAD", timeoutMs);
  }
  return new Promise<Outcome>((resolve) => {
    const timer = setTimeout(() => {
      r.destroy();
      resolve({ ok: false, error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    r.on("error", (e) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `client error: ${(e as NodeJS.ErrnoException).code ?? e.message}` });
    });
    r.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (e) => {
        clearTimeout(timer);
        resolve({ ok: false, error: `response error: ${e.message}` });
      });
      res.on("end", () => {
        clearTimeout(timer);
        const headers: Record<string, string> = {};
        const raw = res.rawHeaders;
        let headText = "";
        for (let i = 0; i < raw.length; i += 2) {
          const k = raw[i]!.toLowerCase();
          headers[k] = headers[k] === undefined ? raw[i + 1]! : `${headers[k]}, ${raw[i + 1]}`;
          headText += `${raw[i]}: ${raw[i + 1]}\n`;
        }
        resolve({ ok: true, res: { status: res.statusCode ?? 0, headers, headText, body: Buffer.concat(chunks) } });
      });
    });
    if (req.body) r.end(req.body);
    else r.end();
  });
}

/** The bytes of a request node:http would not send, with Host and Connection: close added. */
export function serializeRequest(port: number, req: WireRequest): Buffer {
  const lines = [`${req.method} ${req.path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, "Connection: close"];
  for (const [k, v] of req.headers) lines.push(`${k}: ${v}`);
  if (req.body && !req.headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) lines.push(`Content-Length: ${req.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), req.body ?? Buffer.alloc(0)]);
}

/** Writes `bytes` on a fresh connection and parses the first response (nothing received is an error). */
export function sendRaw(port: number, bytes: Buffer, head: boolean, timeoutMs: number): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => {
      const parsed = parseResponse(buf, head, true);
      finish(parsed ?? { ok: false, error: `no answer within ${timeoutMs} ms (${buf.length} bytes received)` });
    }, timeoutMs);
    sock.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const parsed = parseResponse(buf, head, false);
      if (parsed) finish(parsed);
    });
    const atEnd = (why: string) => {
      const parsed = parseResponse(buf, head, true);
      finish(
        parsed ?? {
          ok: false,
          error: buf.length
            ? `unparsable answer (${why}): ${JSON.stringify(buf.toString("latin1").slice(0, 200))}`
            : `connection closed without an answer (${why})`,
        },
      );
    };
    sock.on("end", () => atEnd("end"));
    sock.on("close", () => atEnd("close"));
    sock.on("error", (e) => atEnd((e as NodeJS.ErrnoException).code ?? e.message));
    sock.write(bytes, () => {});
  });
}

/** The first complete response in `buf`, or null when more bytes are needed (`closed`: no more will come). */
export function parseResponse(buf: Buffer, head: boolean, closed: boolean): Outcome | null {
  let start = 0;
  // skip interim 1xx responses (100 Continue)
  for (;;) {
    const end = buf.indexOf("\r\n\r\n", start);
    if (end < 0) return null;
    const headText = buf.subarray(start, end).toString("latin1");
    const [statusLine, ...lines] = headText.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine!);
    if (!m) return { ok: false, error: `bad status line ${JSON.stringify(statusLine)}` };
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(":");
      if (i < 0) continue;
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    const bodyStart = end + 4;
    if (status >= 100 && status < 200) {
      start = bodyStart;
      continue;
    }
    const res = (body: Buffer): Outcome => ({ ok: true, res: { status, headers, headText, body } });
    if (head || status === 204 || status === 304) return res(Buffer.alloc(0));
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
      const body = dechunk(buf.subarray(bodyStart));
      if (body) return res(body);
      return closed ? { ok: false, error: "truncated chunked body" } : null;
    }
    if (headers["content-length"] !== undefined) {
      const n = Number(headers["content-length"]);
      if (buf.length - bodyStart >= n) return res(buf.subarray(bodyStart, bodyStart + n));
      return closed ? { ok: false, error: `truncated body (${buf.length - bodyStart} of ${n} bytes)` } : null;
    }
    return closed ? res(buf.subarray(bodyStart)) : null;
  }
}

function dechunk(b: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const nl = b.indexOf("\r\n", i);
    if (nl < 0) return null;
    const size = parseInt(b.subarray(i, nl).toString("latin1"), 16);
    if (Number.isNaN(size)) return null;
    if (size === 0) return Buffer.concat(parts);
    if (b.length < nl + 2 + size + 2) return null;
    parts.push(b.subarray(nl + 2, nl + 2 + size));
    i = nl + 2 + size + 2;
  }
}
