import { describe, expect, it } from "vitest";
import { keyRecord } from "../types.js";
import { createKeyReader, type ReadKeys } from "./key-reader.js";

const NID = "00000000-0000-0000-0000-000000000000";
const OTHER = "11111111-1111-1111-1111-111111111111";

function recorder(known: string[], fail?: (ids: string[]) => boolean) {
  const calls: { nid: string; ids: string[] }[] = [];
  const read: ReadKeys = async (nid, ids) => {
    calls.push({ nid, ids: [...ids] });
    if (fail?.(ids)) throw new Error("database down");
    return ids.filter((id) => known.includes(id)).map((keyId) => keyRecord({ nid, keyId, kind: "issued", name: keyId }));
  };
  return { read, calls };
}

describe("createKeyReader", () => {
  it("answers concurrent reads with one query, equal ids sharing one row, unknown ids null", async () => {
    const { read, calls } = recorder(["a", "b"]);
    const get = createKeyReader(read);
    const out = await Promise.all([get(NID, "a"), get(NID, "b"), get(NID, "a"), get(NID, "zzz")]);
    expect(out.map((r) => r?.keyId ?? null)).toEqual(["a", "b", "a", null]);
    expect(out[0]).toBe(out[2]);
    expect(calls).toEqual([{ nid: NID, ids: ["a", "b", "zzz"] }]);
  });

  it("keeps networks apart and splits a batch at maxBatch ids", async () => {
    const { read, calls } = recorder(["a", "b", "c"]);
    const get = createKeyReader(read, 2);
    const out = await Promise.all([get(NID, "a"), get(NID, "b"), get(NID, "c"), get(OTHER, "a")]);
    expect(out.map((r) => r && `${r.nid === NID ? "n" : "o"}:${r.keyId}`)).toEqual(["n:a", "n:b", "n:c", "o:a"]);
    expect(calls).toEqual([
      { nid: NID, ids: ["a", "b"] },
      { nid: NID, ids: ["c"] },
      { nid: OTHER, ids: ["a"] },
    ]);
  });

  it("fails every read of a failed query, and the next round reads afresh", async () => {
    let down = true;
    const { read, calls } = recorder(["a"], () => down);
    const get = createKeyReader(read);
    const failed = await Promise.allSettled([get(NID, "a"), get(NID, "b")]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    down = false;
    expect((await get(NID, "a"))?.keyId).toBe("a");
    expect(calls).toHaveLength(2);
  });

  it("reads sequential requests separately: a later read never reuses an earlier row", async () => {
    const { read, calls } = recorder(["a"]);
    const get = createKeyReader(read);
    await get(NID, "a");
    await get(NID, "a");
    expect(calls).toHaveLength(2);
  });
});
