import type { KeyKind, KeyRecord } from "../types.js";
import type { ServiceContext } from "./context.js";
import { loadKey } from "./common.js";

/** SPEC.md §6.3. Malformed ids are simply not found. */
export async function getKey(ctx: ServiceContext, kind: KeyKind, keyId: string): Promise<KeyRecord> {
  return loadKey(ctx, ctx.store.repo, kind, keyId);
}
