import type { IncomingMessage } from "node:http";

export const MAX_VERIFY_BODY = 1024 * 1024;

export class BodyTooLarge extends Error {}

/**
 * The request body, at most `max` bytes. Beyond it: BodyTooLarge without reading the rest, and the
 * request is paused rather than destroyed, so the 413 still reaches the client (sent with
 * `Connection: close`, which ends the connection afterwards).
 */
export function readBody(req: IncomingMessage, max = MAX_VERIFY_BODY): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > max) return Promise.reject(new BodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > max) {
        cleanup();
        req.pause();
        return reject(new BodyTooLarge());
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}
