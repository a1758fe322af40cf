import { createClient } from "./client.js";
import { emit, renderTable } from "./output.js";
import type { CommonOptions } from "./parse.js";

interface Jwks {
  keys: { kid?: string; kty?: string; alg?: string; use?: string; crv?: string }[];
}

/** `talos jwk get` (docs/derived-tokens.md#jwks): the public JWK Set the server serves for derived JWTs. */
export async function jwkGetCommand(opts: CommonOptions): Promise<number> {
  const set = await createClient(opts).call<Jwks>("/v2alpha1/derivedKeys/jwks.json");
  const keys = Array.isArray(set?.keys) ? set.keys : [];
  await emit(opts, set, {
    table: () => renderTable(["KID", "KTY", "ALG", "USE", "CRV"], keys.map((k) => [k.kid ?? "-", k.kty ?? "-", k.alg ?? "-", k.use ?? "-", k.crv ?? "-"])),
    quiet: () => keys.map((k) => k.kid ?? "-"),
  });
  return 0;
}
