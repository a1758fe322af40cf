import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLarge, readBody } from "./body.js";
import { sendError, send } from "./respond.js";
import { endToEnd, type Upstream } from "./upstream.js";
import { VERIFY_PATH, bypassesCache, cachedVerify, type VerifyDeps } from "./verify.js";

/**
 * Sidecar mode (docs/proxy.md#sidecar): POST apiKeys:verify through the cache, everything else
 * streamed to the central Talos unchanged (Authorization included). Resolves true for a cache hit.
 */
export function sidecarHandler(d: VerifyDeps, upstream: Upstream) {
  return async (req: IncomingMessage, res: ServerResponse, host: string): Promise<boolean> => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "POST" || path !== VERIFY_PATH) {
      await upstream.forward(req, res);
      return false;
    }
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        res.setHeader("connection", "close");
        sendError(res, 413, "request_too_large", "request body exceeds 1 MB");
        return false;
      }
      throw e;
    }
    const headers = endToEnd(req.headers);
    let credential: unknown;
    try {
      credential = (JSON.parse(body.toString("utf8")) as { credential?: unknown })?.credential;
    } catch {
      credential = undefined;
    }
    // without a credential there is nothing to cache: the server answers (and words the error)
    if (typeof credential !== "string" || credential === "") {
      const up = await upstream.send("POST", req.url ?? VERIFY_PATH, headers, body);
      send(res, up.status, up.body, endToEnd(up.headers, new Set(["content-length"])));
      return false;
    }
    const a = await cachedVerify(d, { host, credential, body, headers, remoteAddress: req.socket.remoteAddress ?? "", bypass: bypassesCache(headers) });
    send(res, a.status, a.raw, a.headers);
    return a.cached;
  };
}
