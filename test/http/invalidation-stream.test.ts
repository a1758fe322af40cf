/**
 * GET /v2alpha1/admin/cacheInvalidations:stream (docs/proxy.md#invalidation), in process: the SSE
 * framing, one `invalidate` per key change, and `reset` after a gap in the server's own feed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

const PATH = "/v2alpha1/admin/cacheInvalidations:stream";

describe("cacheInvalidations:stream", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ mode: "admin" });
  });
  afterAll(() => s?.close());

  it("streams ready, then invalidate per mutation and reset after a gap", async () => {
    const abort = new AbortController();
    const res = await s.built.app("admin").request(PATH, { signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    let text = "";
    const until = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await until("event: ready\ndata: {}\n\n");
    const issued = await s.request("POST", "/v2alpha1/admin/issuedApiKeys", { name: "n", actor_id: "a" });
    const id = issued.body.issued_api_key.key_id as string;
    expect((await s.request("POST", `/v2alpha1/admin/issuedApiKeys/${id}:revoke`, {})).status).toBe(204);
    await until(`event: invalidate\ndata: {"kind":"issued","key_id":"${id}"}\n\n`);
    s.built.runtime.resync();
    await until("event: reset\ndata: {}\n\n");

    await reader.cancel();
    abort.abort();
  });

  it("is in the OpenAPI document", async () => {
    const doc = await s.request("GET", "/openapi.json");
    expect(doc.status).toBe(200);
    expect(JSON.stringify(doc.body)).toContain("adminStreamCacheInvalidations");
  });
});
