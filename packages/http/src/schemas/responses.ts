import { z } from "zod";
import { KeyVisibility, RevocationReason, keyStatus, type KeyRecord } from "@talos/core";
import { timestamp } from "../codec.js";
import { BATCH_CREATE_ERROR, KEY_STATUS, KEY_VISIBILITY, REVOCATION_REASON, VERIFICATION_ERROR, enumOutput } from "./enums.js";

/** Response shapes (docs/wire.md#resources): every field is always emitted (protojson "emit unpopulated"). */

const Timestamp = z.string().nullable().meta({ format: "date-time" });
const Int64 = z.string().meta({ description: "int64 as a decimal string" });
const Struct = z.record(z.string(), z.unknown()).nullable();

export const RateLimitPolicy = z
  .object({ quota: Int64, window: z.string().meta({ example: "60s" }), unit: z.string() })
  .meta({ id: "RateLimitPolicy" });
export const IPRestriction = z.object({ allowed_cidrs: z.array(z.string()) }).meta({ id: "IPRestriction" });

const keyShape = {
  key_id: z.string().describe("Issued: lower-case UUID; imported: 64 lower-case hex characters"),
  name: z.string(),
  actor_id: z.string().describe("Owner of the key"),
  scopes: z.array(z.string()),
  status: enumOutput(KEY_STATUS).describe("Computed when read: REVOKED, else EXPIRED once expire_time has passed, else ACTIVE"),
  metadata: Struct,
  create_time: Timestamp,
  update_time: Timestamp.describe("Moves with every change"),
  expire_time: Timestamp.describe("null: never expires"),
  last_used_time: Timestamp.describe("First successful use of the latest day of use (UTC), written asynchronously"),
  rate_limit_policy: RateLimitPolicy.nullable(),
  ip_restriction: IPRestriction.nullable(),
  revocation_reason: enumOutput(REVOCATION_REASON),
  revocation_description: z.string(),
  visibility: enumOutput(KEY_VISIBILITY),
};
export const IssuedApiKey = z.object(keyShape).meta({ id: "IssuedApiKey" });
export const ImportedApiKey = z.object(keyShape).meta({ id: "ImportedApiKey" });
export type ApiKeyJson = z.infer<typeof IssuedApiKey>;

export const IssueApiKeyResponse = z
  .object({ issued_api_key: IssuedApiKey, secret: z.string().describe('The key itself, shown only here; "" on an idempotent replay') })
  .meta({ id: "IssueApiKeyResponse" });
export const RotateIssuedApiKeyResponse = z
  .object({ issued_api_key: IssuedApiKey, secret: z.string(), old_issued_api_key: IssuedApiKey })
  .meta({ id: "RotateIssuedApiKeyResponse" });
export const ListIssuedApiKeysResponse = z
  .object({ issued_api_keys: z.array(IssuedApiKey), next_page_token: z.string().describe('"" on the last page') })
  .meta({ id: "ListIssuedApiKeysResponse" });
export const ListImportedApiKeysResponse = z
  .object({ imported_api_keys: z.array(ImportedApiKey), next_page_token: z.string().describe('"" on the last page') })
  .meta({ id: "ListImportedApiKeysResponse" });
export const BatchCreateImportedApiKeysResult = z
  .object({
    index: z.number().int(),
    imported_api_key: ImportedApiKey.nullable(),
    error_code: enumOutput(BATCH_CREATE_ERROR),
    error_message: z.string(),
  })
  .meta({ id: "BatchCreateImportedApiKeysResult" });
export const BatchCreateImportedApiKeysResponse = z
  .object({ results: z.array(BatchCreateImportedApiKeysResult), success_count: z.number().int(), failure_count: z.number().int() })
  .meta({ id: "BatchCreateImportedApiKeysResponse" });

export const VerifyApiKeyResponse = z
  .object({
    is_valid: z.boolean().describe("The verdict; every outcome is HTTP 200"),
    status: enumOutput(KEY_STATUS).describe("ACTIVE when valid, EXPIRED for an expired key, else UNSPECIFIED (never REVOKED)"),
    key_id: z.string(),
    actor_id: z.string(),
    scopes: z.array(z.string()),
    expire_time: Timestamp,
    metadata: Struct,
    rate_limit_policy: RateLimitPolicy.nullable(),
    visibility: enumOutput(KEY_VISIBILITY),
    issuer: z.string(),
    error_code: enumOutput(VERIFICATION_ERROR).describe("Why the credential is not valid; UNSPECIFIED when it is"),
    error_message: z.string(),
    rate_limit_remaining: Int64.describe("Requests left when the rate limiter ran for this request"),
    rate_limit_reset_time: Timestamp.describe("When the full quota is available again"),
  })
  .meta({ id: "VerifyApiKeyResponse" });
export type VerifyJson = z.infer<typeof VerifyApiKeyResponse>;
export const BatchVerifyApiKeysResponse = z.object({ results: z.array(VerifyApiKeyResponse) }).meta({ id: "BatchVerifyApiKeysResponse" });

export const Token = z
  .object({ token: z.string(), expire_time: Timestamp, scopes: z.array(z.string()), claims: Struct })
  .meta({ id: "Token" });
export const DeriveTokenResponse = z.object({ token: Token }).meta({ id: "DeriveTokenResponse" });
export const SelfRevokeApiKeyResponse = z.object({}).meta({ id: "SelfRevokeApiKeyResponse" });
export const JsonWebKeySet = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).meta({ id: "JsonWebKeySet" });
export const Status = z
  .object({
    status: z.string(),
    detail: z.string().optional().describe("/health/ready: a configuration problem that does not stop serving (a missing JWT signing key)"),
  })
  .meta({ id: "HealthStatus" });
export const Version = z.object({ version: z.string() }).meta({ id: "Version" });

export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.number().int(),
      message: z.string(),
      status: z.string(),
      details: z.array(
        z.object({ "@type": z.string(), reason: z.string(), domain: z.string(), metadata: z.record(z.string(), z.string()) }),
      ),
    }),
  })
  .meta({ id: "ErrorEnvelope" });

export function encodePolicy(p: KeyRecord["rateLimitPolicy"]): z.infer<typeof RateLimitPolicy> | null {
  return p ? { quota: String(p.quota), window: `${p.windowSeconds}s`, unit: p.unit } : null;
}

export function encodeKey(rec: KeyRecord, now: number): ApiKeyJson {
  return {
    key_id: rec.keyId,
    name: rec.name,
    actor_id: rec.actorId,
    scopes: rec.scopes,
    status: KEY_STATUS[keyStatus(rec, now)]!,
    metadata: rec.metadata,
    create_time: timestamp(rec.createTime),
    update_time: timestamp(rec.updateTime),
    expire_time: timestamp(rec.expireTime),
    last_used_time: timestamp(rec.lastUsedTime),
    rate_limit_policy: encodePolicy(rec.rateLimitPolicy),
    ip_restriction: rec.allowedCidrs ? { allowed_cidrs: rec.allowedCidrs } : null,
    revocation_reason: REVOCATION_REASON[rec.revocationReason] ?? REVOCATION_REASON[RevocationReason.UNSPECIFIED],
    revocation_description: rec.revocationDescription,
    visibility: KEY_VISIBILITY[rec.visibility || KeyVisibility.SECRET]!,
  };
}
