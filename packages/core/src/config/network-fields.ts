/** The `multitenancy.networks` list of the configuration schema (docs/multitenancy.md). */
import { z } from "zod";
import { mapping, nonEmptyString } from "./fields.js";
import type { NetworkEntry } from "./types.js";

// Any 8-4-4-4-12 hex UUID (the nil UUID and non-RFC variants included): the id is only a partition key.
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// A DNS name or an IPv4 address, without port; matched against Host after lower-casing and stripping the port.
const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62})(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62}))*$/;

const networkEntry = mapping({
  hostname: nonEmptyString().regex(HOSTNAME, { error: "must be a host name without port (letters, digits, hyphens and dots)" }),
  id: nonEmptyString().regex(UUID, { error: "must be a UUID" }),
  config_path: nonEmptyString(),
}).transform((n): NetworkEntry => ({ hostname: n.hostname.toLowerCase(), id: n.id.toLowerCase(), config_path: n.config_path }));

/** The list; two networks with one hostname or one id are an error (both reported). */
export function networkList() {
  return z
    .array(networkEntry, { error: (iss) => (iss.input === undefined ? "required" : "must be a list of {hostname, id, config_path} mappings") })
    .superRefine((list, ctx) => {
      for (const field of ["hostname", "id"] as const) {
        const first = new Map<string, number>();
        list.forEach((n, i) => {
          const seen = first.get(n[field]);
          if (seen === undefined) first.set(n[field], i);
          else ctx.addIssue({ code: "custom", path: [i, field], message: `duplicates multitenancy.networks[${seen}].${field}`, input: undefined });
        });
      }
    });
}
