import type { KeyKind, KeyRecord } from "../types.js";
import type { ServiceContext } from "./context.js";
import { loadKey } from "./common.js";

/** docs/keys.md#get. Malformed ids are simply not found. */
export async function getKey(ctx: ServiceContext, kind: KeyKind, keyId: string): Promise<KeyRecord> {
  return loadKey(ctx, ctx.store.repo, kind, keyId);
}
