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

/** Request shapes (SPEC.md §5.5, §6, §7, §10.1). Each transforms to the core verb's input. */

const keyCreateFields = {
  name: nameField.optional(),
  actor_id: actorIdField.optional(),
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
  visibility: b.visibility ?? KeyVisibility.UNSPECIFIED,
});

export const IssueApiKeyRequest = z.object(keyCreateFields).transform(toCreateInput).meta({ id: "IssueApiKeyRequest" });

export const ImportApiKeyRequest = z
  .object({
    ...keyCreateFields,
    raw_key: z.string(expected("a string")).min(1, "is required").max(RAW_KEY_MAX_CHARS, `must be at most ${RAW_KEY_MAX_CHARS} characters`),
    name: nameField.min(1, "is required"),
    actor_id: actorIdField.min(1, "is required"),
  })
  .transform((b) => ({ ...toCreateInput(b), rawKey: b.raw_key }))
  .meta({ id: "ImportApiKeyRequest" });

export const BatchCreateImportedApiKeysRequest = z
  .object({ requests: z.array(z.unknown(), expected("an array")).optional() })
  .meta({ id: "BatchCreateImportedApiKeysRequest" });

/** The fields update and rotate may set; presence matters (SPEC.md §6.4, §6.5), so all stay optional. */
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
    description: storedString().max(REVOCATION_DESCRIPTION_MAX_CHARS, `must be at most ${REVOCATION_DESCRIPTION_MAX_CHARS} characters`).optional(),
  })
  .transform((b) => ({ reason: b.reason ?? RevocationReason.UNSPECIFIED, description: b.description ?? "" }))
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
    custom_claims: structField(MAX_CUSTOM_CLAIMS_BYTES).optional(),
  })
  .meta({ id: "DeriveTokenRequest" });
