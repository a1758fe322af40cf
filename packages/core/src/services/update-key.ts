import { isDeepStrictEqual } from "node:util";
import { TalosError, badRequest } from "../errors.js";
import type { KeyPatch } from "../store/types.js";
import type { KeyKind, KeyRecord, RateLimitPolicy } from "../types.js";
import { recordEvent } from "../events/record.js";
import type { ServiceContext } from "./context.js";
import { loadKey, mutate } from "./common.js";

export interface UpdateFields {
  name?: string;
  scopes?: string[];
  metadata?: Record<string, unknown>;
  rateLimitPolicy?: RateLimitPolicy;
  /** null = clear (an empty allowed_cidrs list) */
  allowedCidrs?: string[] | null;
}

export interface UpdateInput {
  /** raw update_mask values (comma-separated, possibly repeated); undefined or empty = no mask */
  mask?: string[];
  fields: UpdateFields;
}

const PATHS = {
  name: "name",
  scopes: "scopes",
  metadata: "metadata",
  rate_limit_policy: "rateLimitPolicy",
  ip_restriction: "allowedCidrs",
} as const;
type Path = keyof typeof PATHS;
const CLEARED: Required<{ [K in (typeof PATHS)[Path]]: KeyRecord[K] }> = {
  name: "",
  scopes: [],
  metadata: null,
  rateLimitPolicy: null,
  allowedCidrs: null,
};

/** update_mask paths (docs/keys.md#update): snake_case or lowerCamelCase, comma-separated, union of repeats. */
function parseUpdateMask(values: string[] | undefined): Path[] | undefined {
  const parts = (values ?? []).flatMap((v) => v.split(",")).map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 0) return undefined;
  const out = new Set<Path>();
  for (const p of parts) {
    const snake = p.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
    if (!Object.hasOwn(PATHS, snake)) {
      throw badRequest("update_mask", `path ${JSON.stringify(p)} cannot be updated; allowed: ${Object.keys(PATHS).join(", ")}`);
    }
    out.add(snake as Path);
  }
  return [...out];
}

function buildPatch(rec: KeyRecord, input: UpdateInput, mask: Path[] | undefined): Partial<KeyPatch> {
  const patch: Record<string, unknown> = {};
  const fields = input.fields as Record<string, unknown>;
  const paths = mask ?? (Object.keys(PATHS) as Path[]).filter((p) => fields[PATHS[p]] !== undefined);
  for (const p of paths) {
    const prop = PATHS[p];
    const value = fields[prop] === undefined ? CLEARED[prop] : fields[prop];
    if (!isDeepStrictEqual(value, rec[prop])) patch[prop] = value;
  }
  return patch as Partial<KeyPatch>;
}

const PATH_OF = Object.fromEntries(Object.entries(PATHS).map(([path, prop]) => [prop, path])) as Record<string, Path>;

/** The event payload of an update: the changed paths and their new values (snake_case, as on the wire). */
function changedPayload(patch: Partial<KeyPatch>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [prop, value] of Object.entries(patch)) {
    const path = PATH_OF[prop];
    if (!path) continue;
    fields[path] =
      prop === "rateLimitPolicy" && value
        ? { quota: (value as RateLimitPolicy).quota, window_seconds: (value as RateLimitPolicy).windowSeconds }
        : value;
  }
  return { changed_fields: Object.keys(fields), fields };
}

/** docs/keys.md#update. */
export async function updateKey(ctx: ServiceContext, kind: KeyKind, keyId: string, input: UpdateInput): Promise<KeyRecord> {
  const mask = parseUpdateMask(input.mask);
  let changed = false;
  const rec = await mutate(
    ctx,
    () => (changed ? [{ kind, keyId }] : []),
    async (repo) => {
      const current = await loadKey(ctx, repo, kind, keyId, true);
      if (current.revoked) throw new TalosError("failed_precondition", "cannot update a revoked key");
      const patch = buildPatch(current, input, mask);
      if (Object.keys(patch).length === 0) return current;
      changed = true;
      const updated = await repo.updateKey(ctx.nid, keyId, { ...patch, updateTime: new Date(ctx.clock()) });
      await recordEvent(ctx, repo, { type: "api_key.updated", record: current, payload: changedPayload(patch) });
      return updated ?? current;
    },
  );
  if (changed) ctx.hooks.event({ event: "APIKeyUpdated", kind, keyId, actorId: rec.actorId });
  return rec;
}
