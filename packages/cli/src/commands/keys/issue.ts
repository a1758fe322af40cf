import { keyBody } from "./body.js";
import { createClient } from "./client.js";
import { emit, keyTable, renderFields, type ApiKey } from "./output.js";
import type { CommonOptions, KeyFlags } from "./parse.js";

export type IssueOptions = CommonOptions & KeyFlags & { allowReplay?: boolean };

interface IssueResponse {
  issued_api_key: ApiKey;
  secret: string;
}

/** `talos keys issue [name]` (docs/keys.md#issue): prints the new key and its secret, which is shown only once. */
export async function issueCommand(name: string | undefined, opts: IssueOptions): Promise<number> {
  const body = { ...(name !== undefined && { name }), ...keyBody(opts) };
  const res = await createClient(opts).call<IssueResponse>("/v2alpha1/admin/issuedApiKeys", { body });
  // An idempotent replay (same --request-id) answers with the stored key and no secret. A script
  // doing SECRET=$(talos keys issue … -q) would carry on with an empty secret, so that is an error
  // unless the caller said a replay is expected.
  if (!res.secret) {
    const what = `--request-id ${opts.requestId ?? ""} was already used: the server answered with the key issued then (${res.issued_api_key.key_id}), whose secret is shown only once`;
    if (!opts.allowReplay) throw new Error(`${what}; pass --allow-replay to accept that`);
    process.stderr.write(`note: ${what}\n`);
  }
  await emit(opts, res, {
    table: () => (res.secret ? `${keyTable([res.issued_api_key])}\n\n${renderFields([["secret", res.secret]])}` : keyTable([res.issued_api_key])),
    quiet: () => (res.secret ? [res.secret] : []),
  });
  return 0;
}
