import type { IncomingMessage } from "node:http";

export const MAX_VERIFY_BODY = 1024 * 1024;

export class BodyTooLarge extends Error {}

/** The request body, at most `max` bytes (413 beyond, without reading the rest). */
export async function readBody(req: IncomingMessage, max = MAX_VERIFY_BODY): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > max) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > max) throw new BodyTooLarge();
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
