import { z } from "zod";
import { KeyVisibility, MAX_CUSTOM_CLAIMS_BYTES, RAW_KEY_MAX_CHARS, REVOCATION_DESCRIPTION_MAX_CHARS, RevocationReason } from "@talos/core";
import { KEY_VISIBILITY, REVOCATION_REASON, TOKEN_ALGORITHM, enumInput } from "./enums.js";
import {
  actorIdField,
  credentialField,
  expected,
  ipRestrictionField,
  metadataField,
  nameField,
  rateLimitPolicyField,
  requestIdField,
  scopesField,
  storedString,
  structField,
  ttlField,
} from "./fields.js";

/** Request shapes (docs/wire.md#small-request-bodies, docs/keys.md#common-rules, docs/verification.md, docs/derived-tokens.md#derive). Each transforms to the core verb's input. */

const keyCreateFields = {
  name: nameField.optional().describe("Display name"),
  actor_id: actorIdField.optional().describe("Owner of the key (user, service); immutable after creation"),
  scopes: scopesField.optional().describe("Permissions the key carries, in order"),
  ttl: ttlField.optional().describe('Lifetime such as "3600s", "720h" or "30d"; absent, "" or "0s" use the configured default'),
  metadata: metadataField.optional().describe("Free-form JSON object, at most 4096 bytes"),
  rate_limit_policy: rateLimitPolicyField.optional().describe("Requests allowed per window, enforced on verify"),
  ip_restriction: ipRestrictionField.optional().describe("CIDRs the key may be verified from; empty means anywhere"),
  request_id: requestIdField.optional().describe("Idempotency key: a retry with the same id and body returns the first result"),
  visibility: enumInput(KEY_VISIBILITY).optional().describe("SECRET (default) or PUBLIC; PUBLIC needs a public prefix for issued keys"),
};

const toCreateInput = (b: z.output<z.ZodObject<typeof keyCreateFields>>) => ({
  name: b.name ?? "",
  actorId: b.actor_id ?? "",
  scopes: b.scopes ?? [],
  ttlMs: b.ttl,
  metadata: b.metadata ?? null,
  rateLimitPolicy: b.rate_limit_policy ?? null,
  allowedCidrs: b.ip_restriction ?? null,
  requestId: b.request_id || undefined,
  visibility: b.visibility ?? KeyVisibility.UNSPECIFIED,
});

export const IssueApiKeyRequest = z.object(keyCreateFields).transform(toCreateInput).meta({ id: "IssueApiKeyRequest" });

export const ImportApiKeyRequest = z
  .object({
    ...keyCreateFields,
    raw_key: z
      .string(expected("a string"))
      .min(1, "is required")
      .max(RAW_KEY_MAX_CHARS, `must be at most ${RAW_KEY_MAX_CHARS} characters`)
      .describe("The key created elsewhere; only its hash is stored"),
    name: nameField.min(1, "is required").describe("Display name"),
    actor_id: actorIdField.min(1, "is required").describe("Owner of the key; immutable after creation"),
  })
  .transform((b) => ({ ...toCreateInput(b), rawKey: b.raw_key }))
  .meta({ id: "ImportApiKeyRequest" });

export const BatchCreateImportedApiKeysRequest = z
  .object({ requests: z.array(z.unknown(), expected("an array")).optional() })
  .meta({ id: "BatchCreateImportedApiKeysRequest" });

/** The fields update and rotate may set; presence matters (docs/keys.md#update, docs/keys.md#rotate), so all stay optional. */
const mutableFields = {
  name: nameField.optional(),
  scopes: scopesField.optional(),
  metadata: metadataField.optional(),
  rate_limit_policy: rateLimitPolicyField.optional(),
  ip_restriction: ipRestrictionField.optional(),
};

const toMutable = (b: z.output<z.ZodObject<typeof mutableFields>>) => ({
  name: b.name,
  scopes: b.scopes,
  metadata: b.metadata,
  rateLimitPolicy: b.rate_limit_policy,
  allowedCidrs: b.ip_restriction,
});

export const UpdateApiKeyFields = z.object(mutableFields).transform(toMutable).meta({ id: "UpdateApiKeyFields" });

export const RotateIssuedApiKeyBody = z
  .object({ ...mutableFields, visibility: enumInput(KEY_VISIBILITY).optional() })
  .transform((b) => ({ ...toMutable(b), visibility: b.visibility || undefined }))
  .meta({ id: "AdminRotateIssuedApiKeyBody" });

export const RevokeApiKeyBody = z
  .object({
    reason: enumInput(REVOCATION_REASON).optional().describe("Why the key is revoked; default UNSPECIFIED"),
    description: storedString()
      .max(REVOCATION_DESCRIPTION_MAX_CHARS, `must be at most ${REVOCATION_DESCRIPTION_MAX_CHARS} characters`)
      .optional()
      .describe("Only with REVOCATION_REASON_PRIVILEGE_WITHDRAWN"),
  })
  .transform((b) => ({ reason: b.reason ?? RevocationReason.UNSPECIFIED, description: b.description ?? "" }))
  .meta({ id: "AdminRevokeApiKeyBody" });

export const VerifyApiKeyRequest = z
  .object({ credential: credentialField.optional().describe("Issued secret, imported raw key, JWT or macaroon") })
  .meta({ id: "VerifyApiKeyRequest" });

export const BatchVerifyApiKeysRequest = z
  .object({
    requests: z
      .array(z.object({ credential: credentialField.optional() }, expected("an object")), expected("an array"))
      .optional(),
  })
  .meta({ id: "BatchVerifyApiKeysRequest" });

export const SelfRevokeApiKeyRequest = z
  .object({
    credential: credentialField.optional().describe("The issued secret or imported raw key being revoked"),
    reason: enumInput(REVOCATION_REASON).optional().describe("Any reason except PRIVILEGE_WITHDRAWN; default UNSPECIFIED"),
  })
  .meta({ id: "SelfRevokeApiKeyRequest" });

export const DeriveTokenRequest = z
  .object({
    credential: credentialField.optional().describe("The parent key: issued secret or imported raw key"),
    algorithm: enumInput(TOKEN_ALGORITHM).optional().describe("JWT (default) or MACAROON"),
    ttl: ttlField.optional().describe("Token lifetime; default and maximum are configured, never past the parent's expiry"),
    scopes: scopesField.optional().describe("A subset of the parent's scopes; default all of them"),
    custom_claims: structField(MAX_CUSTOM_CLAIMS_BYTES).optional().describe("Extra top-level claims; reserved claim names are refused"),
  })
  .meta({ id: "DeriveTokenRequest" });
