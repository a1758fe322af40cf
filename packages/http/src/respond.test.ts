import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { SECURITY_HEADERS, writePlain } from "./respond.js";

describe("writePlain", () => {
  it("writes every security header, the request id, the handler's headers and the length", () => {
    let head: string[] = [];
    let status = 0;
    let text = "";
    const res = {
      destroyed: false,
      writeHead: (s: number, h: string[]) => ((status = s), (head = h)),
      end: (t: string) => (text = t),
    } as unknown as ServerResponse;
    const bytes = writePlain(res, "rid-1", { status: 200, body: { a: "é" }, headers: { "Ory-Talos-Cache": "HIT" } });
    const pairs: [string, string][] = [];
    for (let i = 0; i < head.length; i += 2) pairs.push([head[i]!, head[i + 1]!]);
    // the spelled-out literal in writePlain must not drift from SECURITY_HEADERS
    expect(pairs).toEqual([
      ["content-type", "application/json"],
      ["x-request-id", "rid-1"],
      ...SECURITY_HEADERS,
      ["Ory-Talos-Cache", "HIT"],
      ["content-length", String(Buffer.byteLength(text))],
    ]);
    expect(status).toBe(200);
    expect(bytes).toBe(Buffer.byteLength(text));
  });
});
