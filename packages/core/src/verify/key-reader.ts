import type { KeyRecord } from "../types.js";

/** Reads the given ids of one network in one query (Repo.getKeys). */
export type ReadKeys = (nid: string, keyIds: string[]) => Promise<KeyRecord[]>;

/**
 * Single-key reads of concurrent verifications, coalesced: every read asked for while the event
 * loop handles one round of I/O goes to the database as one `getKeys` query per network, at most
 * `maxBatch` ids each, and equal ids share one row. Under load N statement round trips become one;
 * a lone read waits one setImmediate. Each read is still issued after its request arrived, so a
 * `Cache-Control: no-cache` verify stays a fresh read.
 */
export function createKeyReader(readKeys: ReadKeys, maxBatch = 100): (nid: string, keyId: string) => Promise<KeyRecord | null> {
  type Waiter = { resolve: (r: KeyRecord | null) => void; reject: (e: unknown) => void };
  let pending = new Map<string, Map<string, Waiter[]>>();
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    for (const [nid, byId] of batch) {
      const ids = [...byId.keys()];
      for (let i = 0; i < ids.length; i += maxBatch) void readChunk(nid, ids.slice(i, i + maxBatch), byId);
    }
  };

  const readChunk = async (nid: string, ids: string[], byId: Map<string, Waiter[]>) => {
    try {
      const found = new Map((await readKeys(nid, ids)).map((r) => [r.keyId, r]));
      for (const id of ids) for (const w of byId.get(id)!) w.resolve(found.get(id) ?? null);
    } catch (e) {
      for (const id of ids) for (const w of byId.get(id)!) w.reject(e);
    }
  };

  return (nid, keyId) =>
    new Promise<KeyRecord | null>((resolve, reject) => {
      let byId = pending.get(nid);
      if (!byId) pending.set(nid, (byId = new Map()));
      const waiters = byId.get(keyId);
      if (waiters) waiters.push({ resolve, reject });
      else byId.set(keyId, [{ resolve, reject }]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
