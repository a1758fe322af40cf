import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, badRequest } from "@talos/core";
import {
  ErrorEnvelope,
  UpdateApiKeyFields,
  parseWith,
  queryAll,
  queryOne,
  readJsonObject,
  type Ctx,
} from "@talos/http";
import type { ListInput, UpdateInput } from "@talos/core";

const DESCRIPTIONS: Record<number, string> = {
  400: "Invalid request",
  401: "Parent key does not verify",
  403: "Forbidden",
  404: "Key not found",
  409: "Conflict or failed precondition",
  429: "Quota exceeded",
  500: "Internal error",
};

/** Documented error responses, all in the envelope. */
export function errors(...codes: number[]) {
  return Object.fromEntries(codes.map((c) => [c, { description: DESCRIPTIONS[c] ?? "Error", schema: ErrorEnvelope }]));
}

export const PAGE_SIZE_DOC = `1..${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}`;

export function listInput(c: Ctx): ListInput {
  const url = new URL(c.req.url);
  const size = queryOne(url, "page_size");
  let pageSize: number | undefined;
  if (size !== undefined && size !== "") {
    if (!/^-?\d+$/.test(size.trim()) || !Number.isSafeInteger(Number(size))) throw badRequest("page_size", "must be an integer");
    pageSize = Number(size);
  }
  return { pageSize, pageToken: queryOne(url, "page_token") || undefined, filter: queryOne(url, "filter") };
}

/** PATCH body: the bare resource, or wrapped under issued_api_key / imported_api_key (docs/keys.md#update). */
export async function updateInput(c: Ctx, wrapper: "issued_api_key" | "imported_api_key"): Promise<UpdateInput> {
  const body = await readJsonObject(c);
  const inner = Object.hasOwn(body, wrapper) ? body[wrapper] : body;
  const fields = parseWith(UpdateApiKeyFields, inner, Object.hasOwn(body, wrapper) ? wrapper : "");
  return { mask: queryAll(new URL(c.req.url), "update_mask"), fields };
}
