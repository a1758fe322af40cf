import { setTimeout as sleep } from "node:timers/promises";
import { streamSSE } from "hono/streaming";
import type { InvalidationEvent } from "@talos/core";
import type { AppDeps, RouteDef } from "@talos/http";

export const INVALIDATION_STREAM_PATH = "/v2alpha1/admin/cacheInvalidations:stream";
const PING_MS = 15_000;

/**
 * GET cacheInvalidations:stream (docs/proxy.md#invalidation): Server-Sent Events relaying every key
 * change this instance makes or receives (PostgreSQL NOTIFY, Redis), so `talos proxy` sidecars evict
 * at once. `ready` opens the stream and `reset` follows a gap in the server's own feed: after either,
 * a subscriber empties its cache.
 */
export function invalidationRoutes(deps: AppDeps): RouteDef[] {
  const source = deps.invalidations;
  if (!source) return [];
  return [
    {
      method: "GET",
      path: INVALIDATION_STREAM_PATH,
      operationId: "adminStreamCacheInvalidations",
      summary: "Stream cache invalidations (Server-Sent Events: ready, invalidate {kind, key_id}, reset) for talos proxy",
      tags: ["Proxy"],
      responses: { 200: { description: "text/event-stream; events: ready, invalidate, reset; a comment line every 15 s" } },
      handler: (c) =>
        streamSSE(c, async (stream) => {
          const send = (e: InvalidationEvent) =>
            void stream
              .writeSSE("reset" in e ? { event: "reset", data: "{}" } : { event: "invalidate", data: JSON.stringify({ kind: e.kind, key_id: e.key_id }) })
              .catch(() => {});
          const unsubscribe = source.subscribe(send);
          try {
            await stream.writeSSE({ event: "ready", data: "{}" });
            let idle = 0;
            // ends when the subscriber goes away or the server drains (a drain would otherwise wait for it)
            while (!stream.aborted && !stream.closed && !deps.draining()) {
              await sleep(250);
              idle += 250;
              if (idle >= PING_MS) {
                idle = 0;
                await stream.write(": ping\n\n");
              }
            }
          } finally {
            unsubscribe();
          }
        }),
    },
  ];
}
