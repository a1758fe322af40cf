import { z } from "zod";
import { REVOCATION_DESCRIPTION_MAX_CHARS, RevocationReason } from "@talos/core";
import { REVOCATION_REASON, enumInput } from "./enums.js";
import { expected, storedString } from "./fields.js";

/** Shapes of leaked-key handling (docs/leaked-keys.md): bulk revoke by owner and GitHub secret scanning. */

export const BatchRevokeApiKeysRequest = z
  .object({
    filter: z.string(expected("a string")).describe('Whose keys: actor_id="<id>", optionally AND kind=issued or kind=imported'),
    reason: enumInput(REVOCATION_REASON).optional().describe("Why the keys are revoked; default UNSPECIFIED"),
    description: storedString()
      .max(REVOCATION_DESCRIPTION_MAX_CHARS, `must be at most ${REVOCATION_DESCRIPTION_MAX_CHARS} characters`)
      .optional()
      .describe("Only with REVOCATION_REASON_PRIVILEGE_WITHDRAWN"),
    page_token: z.string(expected("a string")).optional().describe("next_page_token of the previous call: continue where it stopped"),
  })
  .transform((b) => ({
    filter: b.filter,
    reason: b.reason ?? RevocationReason.UNSPECIFIED,
    description: b.description ?? "",
    ...(b.page_token ? { pageToken: b.page_token } : {}),
  }))
  .meta({ id: "AdminBatchRevokeApiKeysRequest" });

export const BatchRevokeApiKeysResponse = z
  .object({
    revoked_count: z.number().int().describe("Keys this call revoked"),
    next_page_token: z.string().describe('"" when every active key of the actor is revoked; else send it back as page_token'),
  })
  .meta({ id: "AdminBatchRevokeApiKeysResponse" });

/** GitHub's report body: https://docs.github.com/en/code-security/secret-scanning/secret-scanning-partner-program */
export const GitHubSecretScanningReport = z
  .array(
    z.object({
      token: z.string(expected("a string")).describe("The matched secret"),
      type: z.string(expected("a string")).describe("The pattern's name, as enrolled with GitHub"),
      url: z.string(expected("a string")).optional().describe("Where GitHub found it"),
      source: z.string(expected("a string")).optional().describe("content, commit, pull_request_comment, npm, ..."),
    }),
    expected("a JSON array of {token, type, url, source}"),
  )
  .meta({ id: "GitHubSecretScanningReport" });

export const GitHubSecretScanningFeedback = z
  .array(
    z.object({
      token_raw: z.string(),
      token_type: z.string(),
      label: z.enum(["true_positive", "false_positive"]).describe("true_positive: a key of this server (revoked now if it was not already)"),
    }),
  )
  .meta({ id: "GitHubSecretScanningFeedback" });
