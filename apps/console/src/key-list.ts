import { KeyStatus, keyStatus, listKeys, MAX_PAGE_SIZE, type KeyKind, type KeyRecord, type ServiceContext } from "@talos/core";

/**
 * The console's key list: issued and imported keys in one table, filtered by actor, status and
 * kind, searched by key id or name prefix, sorted and paged. The API lists one kind ordered by id,
 * so the console reads up to SCAN_LIMIT keys per kind through listKeys and works on those;
 * narrowing by actor reads fewer.
 */
export const SCAN_LIMIT = 10_000;
export const CONSOLE_PAGE_SIZE = 25;
/** "expiring soon": active and expiring within this long */
export const EXPIRING_SOON_MS = 7 * 24 * 3600_000;

export type StatusFilter = "" | "active" | "revoked" | "expired" | "expiring";
export type SortBy = "created" | "last_used" | "expiry";

export interface ListQuery {
  actor: string;
  status: StatusFilter;
  kind: "" | KeyKind;
  q: string;
  sort: SortBy;
  page: number;
}

export interface ListPage {
  rows: KeyRecord[];
  total: number;
  page: number;
  pages: number;
  /** the scan stopped at SCAN_LIMIT: results are partial */
  truncated: boolean;
}

export type Badge = "active" | "revoked" | "expired" | "expiring";

export function badgeOf(r: KeyRecord, now: number): Badge {
  const s = keyStatus(r, now);
  if (s === KeyStatus.REVOKED) return "revoked";
  if (s === KeyStatus.EXPIRED) return "expired";
  return r.expireTime && r.expireTime.getTime() - now <= EXPIRING_SOON_MS ? "expiring" : "active";
}

export function parseListQuery(get: (name: string) => string | undefined): ListQuery {
  const pick = <T extends string>(v: string | undefined, allowed: readonly T[], dflt: T): T => (allowed.includes(v as T) ? (v as T) : dflt);
  const page = Number.parseInt(get("page") ?? "1", 10);
  return {
    actor: (get("actor") ?? "").trim(),
    status: pick(get("status"), ["", "active", "revoked", "expired", "expiring"], ""),
    kind: pick(get("kind"), ["", "issued", "imported"], ""),
    q: (get("q") ?? "").trim(),
    sort: pick(get("sort"), ["created", "last_used", "expiry"], "created"),
    page: Number.isFinite(page) && page >= 1 ? page : 1,
  };
}

/** The filter text of the API's list verb (docs/keys.md#filters). */
function apiFilter(q: ListQuery): string {
  const parts: string[] = [];
  if (q.actor) parts.push(`actor_id="${q.actor.replace(/["\\]/g, "\\$&")}"`);
  const status = { active: "KEY_STATUS_ACTIVE", expiring: "KEY_STATUS_ACTIVE", revoked: "KEY_STATUS_REVOKED", expired: "KEY_STATUS_EXPIRED", "": "" }[q.status];
  if (status) parts.push(`status=${status}`);
  return parts.join(" AND ");
}

async function scan(ctx: ServiceContext, kind: KeyKind, filter: string, limit: number): Promise<{ records: KeyRecord[]; truncated: boolean }> {
  const records: KeyRecord[] = [];
  let pageToken = "";
  do {
    const out = await listKeys(ctx, kind, { pageSize: MAX_PAGE_SIZE, pageToken, filter });
    records.push(...out.records);
    pageToken = out.nextPageToken;
  } while (pageToken && records.length < limit);
  return { records: records.slice(0, limit), truncated: pageToken !== "" };
}

const time = (d: Date | null, absent: number) => (d ? d.getTime() : absent);

export async function listPage(ctx: ServiceContext, q: ListQuery): Promise<ListPage> {
  const filter = apiFilter(q);
  const kinds: KeyKind[] = q.kind ? [q.kind] : ["issued", "imported"];
  const scans = await Promise.all(kinds.map((k) => scan(ctx, k, filter, SCAN_LIMIT)));
  const now = ctx.clock();
  const needle = q.q.toLowerCase();
  let rows = scans.flatMap((s) => s.records);
  if (q.status === "expiring") rows = rows.filter((r) => badgeOf(r, now) === "expiring");
  if (needle) rows = rows.filter((r) => r.keyId.toLowerCase().startsWith(needle) || r.name.toLowerCase().startsWith(needle));
  const key: Record<SortBy, (r: KeyRecord) => number> = {
    created: (r) => -r.createTime.getTime(),
    last_used: (r) => -time(r.lastUsedTime, -Infinity),
    expiry: (r) => time(r.expireTime, Infinity),
  };
  const by = key[q.sort];
  rows.sort((a, b) => by(a) - by(b) || (a.keyId < b.keyId ? -1 : 1));
  const pages = Math.max(1, Math.ceil(rows.length / CONSOLE_PAGE_SIZE));
  const page = Math.min(q.page, pages);
  return {
    rows: rows.slice((page - 1) * CONSOLE_PAGE_SIZE, page * CONSOLE_PAGE_SIZE),
    total: rows.length,
    page,
    pages,
    truncated: scans.some((s) => s.truncated),
  };
}

/** Keys by status for the overview (within the same scan limit). */
export async function countByStatus(ctx: ServiceContext): Promise<{ counts: Record<Badge, number>; truncated: boolean }> {
  const scans = await Promise.all((["issued", "imported"] as const).map((k) => scan(ctx, k, "", SCAN_LIMIT)));
  const now = ctx.clock();
  const counts: Record<Badge, number> = { active: 0, expiring: 0, revoked: 0, expired: 0 };
  for (const s of scans) for (const r of s.records) counts[badgeOf(r, now)]++;
  return { counts, truncated: scans.some((s) => s.truncated) };
}
