/** One generated request, before the live secrets are filled in. */
import type { J } from "./json.js";

export const A = "/v2alpha1/admin";

export type BodyMutation = "none" | "truncate" | "garbage" | "bom" | "utf16" | "empty" | "scalar" | "huge";

export interface FuzzCase {
  /** route template, e.g. "POST /v2alpha1/admin/issuedApiKeys/{key_id}:rotate" */
  route: string;
  method: string;
  path: string;
  headers: [string, string][];
  body?: { value: J; mutation: BodyMutation };
  /** raw bytes for the request (built with the port) */
  raw?: string;
  tags: string[];
}
