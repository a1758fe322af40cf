import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { importRequest, revokeTarget, stableRequestId } from "./bulk-rows.js";
import { inputFormat, readRows, type InputFormat, type InputRow } from "./rows.js";

/** The text cut into `size`-byte chunks, so records straddle chunk boundaries. */
async function rows(text: string, format: InputFormat, size = 7): Promise<InputRow[]> {
  const buf = Buffer.from(text);
  const chunks = Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size));
  const out: InputRow[] = [];
  for await (const r of readRows(Readable.from(chunks), format, "in")) out.push(r);
  return out;
}

describe("readRows", () => {
  it("JSON: a top-level array or {requests:[…]}, streamed across chunk boundaries; non-objects fail alone", async () => {
    expect(await rows('[{"raw_key":"a"}, "id-1", 3]', "json")).toEqual([
      { index: 0, value: { raw_key: "a" } },
      { index: 1, value: "id-1" },
      { index: 2, error: "expected a JSON object" },
    ]);
    expect(await rows('  {"requests": [{"raw_key":"b"}]}', "json")).toEqual([{ index: 0, value: { raw_key: "b" } }]);
    await expect(rows('{"raw_key":"x"}', "json")).rejects.toThrow("in: expected a JSON array of import requests");
    await expect(rows('[{"a":1},', "json")).rejects.toThrow("in: not valid JSON");
    await expect(rows("[1,]x", "json")).rejects.toThrow("in: not valid JSON");
    expect(await rows("[]", "json")).toEqual([]);
  });

  it("JSON lines: CRLF, blank lines skipped, a bad line fails alone", async () => {
    expect(await rows('{"a":1}\r\n\r\nnope\n"id"\n{"b":2}', "jsonl")).toEqual([
      { index: 0, value: { a: 1 } },
      { index: 1, error: "not valid JSON" },
      { index: 2, value: "id" },
      { index: 3, value: { b: 2 } },
    ]);
  });

  it("CSV: header row, BOM, quoted commas; a ragged row breaks the file", async () => {
    expect(await rows('\uFEFFraw_key,scopes\nk1,"a,b"\n\nk2,\n', "csv")).toEqual([
      { index: 0, value: { raw_key: "k1", scopes: "a,b" } },
      { index: 1, value: { raw_key: "k2", scopes: "" } },
    ]);
    await expect(rows("raw_key,name\nk1\n", "csv")).rejects.toThrow(/^in: /);
  });

  it("the format comes from --input-format, else the extension", () => {
    expect(inputFormat("a.CSV", undefined)).toBe("csv");
    expect(inputFormat("a.ndjson", undefined)).toBe("jsonl");
    expect(inputFormat("-", undefined)).toBe("json");
    expect(inputFormat("a.txt", "jsonl")).toBe("jsonl");
    expect(() => inputFormat("a", "xml")).toThrow("--input-format must be one of json, jsonl, csv");
  });
});

describe("bulk rows to requests", () => {
  it("request ids are stable across key order and fit the API's 36 characters; a given id is kept", () => {
    const a = importRequest({ raw_key: "k", name: "n", actor_id: "x" }, false);
    const b = importRequest({ actor_id: "x", name: "n", raw_key: "k" }, false);
    expect(a).toEqual(b);
    const id = (a as { request: { request_id: string } }).request.request_id;
    expect(id).toMatch(/^bi1-[A-Za-z0-9_-]{32}$/);
    expect(id).toBe(stableRequestId({ raw_key: "k", name: "n", actor_id: "x" }));
    expect(importRequest({ raw_key: "k", name: "m", actor_id: "x" }, false)).not.toEqual(a);
    expect(importRequest({ raw_key: "k", request_id: "mine" }, false)).toEqual({ request: { raw_key: "k", request_id: "mine" } });
  });

  it("CSV cells map to the API shape; empty cells are unset; bad JSON or no raw_key fail the row", () => {
    const r = importRequest({ raw_key: "k", scopes: "a b,c", allowed_cidrs: "10.0.0.0/8", rate_limit_quota: "5", rate_limit_window: "1m", metadata: '{"t":1}', ttl: "" }, true);
    expect(r).toMatchObject({
      request: { raw_key: "k", scopes: ["a", "b", "c"], ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] }, rate_limit_policy: { quota: "5", window: "1m" }, metadata: { t: 1 } },
    });
    expect((r as { request: object }).request).not.toHaveProperty("ttl");
    expect(importRequest({ raw_key: "k", metadata: "{" }, true)).toEqual({ error: "metadata: not valid JSON" });
    expect(importRequest({ name: "n" }, false)).toEqual({ error: "raw_key is required" });
  });

  it("revoke targets: a bare id or a row with key_id, reason and description", () => {
    expect(revokeTarget(" abc ")).toEqual({ keyId: "abc" });
    expect(revokeTarget({ key_id: "abc", reason: "superseded", description: "" })).toEqual({ keyId: "abc", reason: "superseded", description: undefined });
    expect(revokeTarget({ id: "abc" })).toEqual({ error: "key_id is required" });
  });
});
