import { z } from "zod";
import { KEY_VISIBILITY, REVOCATION_REASON, TOKEN_ALGORITHM, enumInput } from "./enums.js";
import {
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
  name: nameField.optional(),
  actor_id: nameField.optional(),
  scopes: scopesField.optional(),
  ttl: ttlField.optional(),
  metadata: metadataField.optional(),
  rate_limit_policy: rateLimitPolicyField.optional(),
  ip_restriction: ipRestrictionField.optional(),
  request_id: requestIdField.optional(),
  visibility: enumInput(KEY_VISIBILITY).optional(),
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
  visibility: b.visibility ?? 0,
});

export const IssueApiKeyRequest = z.object(keyCreateFields).transform(toCreateInput).meta({ id: "IssueApiKeyRequest" });

export const ImportApiKeyRequest = z
  .object({
    ...keyCreateFields,
    raw_key: z.string(expected("a string")).min(1, "is required").max(4096, "must be at most 4096 characters"),
    name: nameField.min(1, "is required"),
    actor_id: nameField.min(1, "is required"),
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
    reason: enumInput(REVOCATION_REASON).optional(),
    description: storedString().max(1024, "must be at most 1024 characters").optional(),
  })
  .transform((b) => ({ reason: b.reason ?? 0, description: b.description ?? "" }))
  .meta({ id: "AdminRevokeApiKeyBody" });

export const VerifyApiKeyRequest = z.object({ credential: credentialField.optional() }).meta({ id: "VerifyApiKeyRequest" });

export const BatchVerifyApiKeysRequest = z
  .object({
    requests: z
      .array(z.object({ credential: credentialField.optional() }, expected("an object")), expected("an array"))
      .optional(),
  })
  .meta({ id: "BatchVerifyApiKeysRequest" });

export const SelfRevokeApiKeyRequest = z
  .object({ credential: credentialField.optional(), reason: enumInput(REVOCATION_REASON).optional() })
  .meta({ id: "SelfRevokeApiKeyRequest" });

export const DeriveTokenRequest = z
  .object({
    credential: credentialField.optional(),
    algorithm: enumInput(TOKEN_ALGORITHM).optional(),
    ttl: ttlField.optional(),
    scopes: scopesField.optional(),
    custom_claims: structField().optional(),
  })
  .meta({ id: "DeriveTokenRequest" });
