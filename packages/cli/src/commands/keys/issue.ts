import { keyBody } from "./body.js";
import { createClient } from "./client.js";
import { emit, keyTable, renderFields, type ApiKey } from "./output.js";
import type { CommonOptions, KeyFlags } from "./parse.js";

export type IssueOptions = CommonOptions & KeyFlags;

interface IssueResponse {
  issued_api_key: ApiKey;
  secret: string;
}

/** `talos keys issue [name]` (docs/keys.md#issue): prints the new key and its secret, which is shown only once. */
export async function issueCommand(name: string | undefined, opts: IssueOptions): Promise<number> {
  const body = { ...(name !== undefined && { name }), ...keyBody(opts) };
  const res = await createClient(opts).call<IssueResponse>("/v2alpha1/admin/issuedApiKeys", { body });
  // an idempotent replay (same --request-id) answers with the stored key and no secret
  if (!res.secret) process.stderr.write("note: this --request-id was already used; the secret is not shown again\n");
  await emit(opts, res, {
    table: () => (res.secret ? `${keyTable([res.issued_api_key])}\n\n${renderFields([["secret", res.secret]])}` : keyTable([res.issued_api_key])),
    quiet: () => (res.secret ? [res.secret] : []),
  });
  return 0;
}
