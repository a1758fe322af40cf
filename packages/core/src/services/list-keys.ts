import { normaliseFilter, parseFilter } from "../list/filter.js";
import { decodePageToken, encodePageToken } from "../list/page-token.js";
import type { KeyKind, KeyRecord } from "../types.js";
import type { ServiceContext } from "./context.js";

export interface ListInput {
  pageSize?: number;
  pageToken?: string;
  filter?: string;
}

export interface ListResult {
  records: KeyRecord[];
  nextPageToken: string;
}

/** Page sizes (docs/keys.md#list): absent or ≤ 0 is the default, larger ones are capped. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** docs/keys.md#list and docs/keys.md#listing-filters-and-page-tokens. */
export async function listKeys(ctx: ServiceContext, kind: KeyKind, input: ListInput): Promise<ListResult> {
  const size = input.pageSize === undefined || input.pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(input.pageSize, MAX_PAGE_SIZE);
  const filter = parseFilter(input.filter);
  const filterNormalised = normaliseFilter(filter);
  const after = input.pageToken
    ? decodePageToken(input.pageToken, { nid: ctx.nid, kind, filterNormalised, secrets: ctx.crypto.hmacSecrets() }).after
    : undefined;
  const rows = await ctx.store.repo.listKeys(ctx.nid, {
    kind,
    actorId: filter.actorId,
    status: filter.status,
    afterKeyId: after,
    limit: size + 1,
    now: ctx.clock(),
  });
  const records = rows.slice(0, size);
  const last = records[records.length - 1];
  const nextPageToken =
    rows.length > size && last
      ? encodePageToken({ nid: ctx.nid, kind, after: last.keyId, filter: filterNormalised }, ctx.config.secrets.hmac.current)
      : "";
  return { records, nextPageToken };
}
