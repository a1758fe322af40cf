/**
 * Compatibility with the published Ory SDK (docs/compatibility.md#http-and-sdk-compatibility): `@ory/client`'s ApiKeysApi drives real
 * `talos` processes unchanged — the all-in-one on the embedded database always, and split admin +
 * public processes on PostgreSQL when TALOS_TEST_DSN is set. Assertions are on the typed responses.
 */
import { randomBytes } from "node:crypto";
import {
  ApiKeysApi,
  BatchCreateImportedApiKeysErrorCode,
  Configuration,
  KeyStatus,
  KeyVisibility,
  RevocationReason,
  VerificationErrorCode,
  type IssuedApiKey,
} from "@ory/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { E2E_TIMEOUT_MS, startTalos, stopAllTalos, type TalosProcess } from "../support/process.js";

const SECRET = "e2e-sdk-hmac-secret-0123456789abcdef-xyz";
const ISSUER = "https://sdk.e2e.talos.test";
/** docs/compatibility.md#test-vectors: imported key_id of this raw key in the nil network. */
const VECTOR_RAW_KEY = "sk_live_example_0001";
const VECTOR_KEY_ID = "5c307a51521d853fb92610f351eff76d1aeec225a7cbdc8ec4f7558b09594648";
/** docs/compatibility.md#test-vectors: a Talos-format issued key; importing it must fail. */
const TALOS_FORMAT_KEY =
  "ory_ak_v1_Qixkm4LLsreXThDin1PMp9sWK4x6LUoqCmkeLVEqBFS2B8YTHGnSV2U6GHuMLoWd_9EqeTSRe7bcCsfm5SdpUkfJCio1NU9TaVQFWXiumh6DZ";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

interface Target {
  name: string;
  /** starts the processes; SDK clients bound to the admin and the public surface */
  start(): Promise<{ admin: ApiKeysApi; pub: ApiKeysApi; procs: TalosProcess[] }>;
  /** drops what start() created besides the processes */
  cleanup(): Promise<void>;
}

// accessToken: the SDK then sends `Authorization: Bearer …`, which talos ignores (docs/wire.md#headers)
const sdk = (basePath: string) => new ApiKeysApi(new Configuration({ basePath, accessToken: "ory_pat_not_checked" }));
const serverEnv = (dsn: string) => ({ TALOS_DB_DSN: dsn, TALOS_SECRETS_HMAC_CURRENT: SECRET, TALOS_CREDENTIALS_ISSUER: ISSUER });

const targets: Target[] = [
  {
    name: "all-in-one on the embedded database",
    async start() {
      const p = await startTalos({ args: ["serve"], env: serverEnv("memory") });
      return { admin: sdk(p.apiUrl), pub: sdk(p.apiUrl), procs: [p] };
    },
    cleanup: async () => {},
  },
];
if (TEST_DSN) {
  let drop = async () => {};
  targets.push({
    name: "admin + public processes on PostgreSQL",
    async start() {
      const db = await freshDatabase("talos_e2e_sdk");
      drop = db.drop;
      // both migrate concurrently: the advisory lock lets exactly one apply the migrations
      const [admin, pub] = await Promise.all([
        startTalos({ args: ["serve", "admin", "--migrate"], env: serverEnv(db.dsn) }),
        startTalos({ args: ["serve", "public", "--migrate"], env: serverEnv(db.dsn) }),
      ]);
      return { admin: sdk(admin.apiUrl), pub: sdk(pub.apiUrl), procs: [admin, pub] };
    },
    cleanup: () => drop(),
  });
} else {
  warnSkip("test/e2e/sdk.test.ts against split admin + public processes on PostgreSQL");
}

afterAll(stopAllTalos);

/** The SDK rejects non-2xx with an AxiosError; returns its status and error envelope. */
async function sdkError(call: Promise<unknown>): Promise<{ status: number; body: any }> {
  try {
    await call;
  } catch (e) {
    // an AxiosError (axios is the SDK's own dependency, not ours): read its response
    const res = (e as { response?: { status: number; data: unknown } }).response;
    if (res) return { status: res.status, body: res.data };
    throw e;
  }
  throw new Error("expected the SDK call to fail");
}

const actor = (what: string) => `sdk-${what}-${randomBytes(4).toString("hex")}`;

describe.each(targets)("Ory SDK against $name", { timeout: E2E_TIMEOUT_MS }, (target) => {
  let admin: ApiKeysApi;
  let pub: ApiKeysApi;
  let procs: TalosProcess[] = [];
  /** every secret and raw key the tests used: none may ever reach a log line */
  const credentials: string[] = [];

  beforeAll(async () => {
    ({ admin, pub, procs } = await target.start());
  });
  afterAll(async () => {
    await stopAllTalos();
    await target.cleanup();
  });

  it("issued keys: issue -> get -> list -> update -> verify -> rotate -> revoke", async () => {
    const actorId = actor("issued");
    const issued = await admin.adminIssueApiKey({
      issueApiKeyRequest: {
        name: "sdk issued",
        actor_id: actorId,
        scopes: ["read", "write"],
        ttl: "3600s",
        metadata: { team: "e2e" },
        rate_limit_policy: { quota: "100", window: "60s" },
        ip_restriction: { allowed_cidrs: ["127.0.0.0/8", "::1/128"] },
      },
    });
    expect(issued.status).toBe(201);
    expect(Object.keys(issued.data).sort()).toEqual(["issued_api_key", "secret"]);
    const key = issued.data.issued_api_key!;
    const secret = issued.data.secret!;
    credentials.push(secret);
    expect(issued.headers["location"]).toBe(`/v2alpha1/admin/issuedApiKeys/${key.key_id}`);
    expect(secret).toMatch(/^ory_ak_v1_[1-9A-HJ-NP-Za-km-z]+_[1-9A-HJ-NP-Za-km-z]+$/);
    expect(key.key_id).toMatch(UUID_V4);
    expect(key).toMatchObject({
      name: "sdk issued",
      actor_id: actorId,
      scopes: ["read", "write"],
      status: KeyStatus.KeyStatusActive,
      metadata: { team: "e2e" },
      rate_limit_policy: { quota: "100", window: "60s", unit: "" },
      ip_restriction: { allowed_cidrs: ["127.0.0.0/8", "::1/128"] },
      revocation_reason: RevocationReason.RevocationReasonUnspecified,
      revocation_description: "",
      visibility: KeyVisibility.KeyVisibilitySecret,
      last_used_time: null,
    });
    expect(key.create_time).toMatch(RFC3339_UTC);
    expect(Date.parse(key.expire_time!) - Date.parse(key.create_time!)).toBe(3_600_000);

    const got = await admin.adminGetIssuedApiKey({ keyId: key.key_id! });
    expect(got.status).toBe(200);
    expect(got.data).toEqual(key);

    const listed = await admin.adminListIssuedApiKeys({ filter: `actor_id="${actorId}"`, pageSize: 10 });
    expect(listed.data).toEqual({ issued_api_keys: [key], next_page_token: "" });
    const active = await admin.adminListIssuedApiKeys({ filter: `actor_id="${actorId}" AND status=KEY_STATUS_REVOKED` });
    expect(active.data.issued_api_keys).toEqual([]);

    // AIP-134 with a mask: exactly the masked fields change
    const masked = await admin.adminUpdateIssuedApiKey({
      keyId: key.key_id!,
      adminUpdateIssuedApiKeyRequest: { name: "renamed", scopes: ["read"], metadata: { ignored: true } },
      updateMask: "name,scopes",
    });
    expect(masked.status).toBe(200);
    expect(masked.data).toMatchObject({ key_id: key.key_id, name: "renamed", scopes: ["read"], metadata: { team: "e2e" } });
    // without a mask, sending back the resource read earlier (output-only fields included) applies what is set
    const resent: IssuedApiKey = { ...masked.data, metadata: { team: "e2e", v: 2 }, status: KeyStatus.KeyStatusRevoked };
    const unmasked = await admin.adminUpdateIssuedApiKey({ keyId: key.key_id!, adminUpdateIssuedApiKeyRequest: resent });
    expect(unmasked.data).toMatchObject({ name: "renamed", metadata: { team: "e2e", v: 2 }, status: KeyStatus.KeyStatusActive, actor_id: actorId });
    expect(Date.parse(unmasked.data.update_time!)).toBeGreaterThanOrEqual(Date.parse(key.update_time!));

    const verified = await admin.adminVerifyApiKey({ verifyApiKeyRequest: { credential: secret } });
    expect(verified.status).toBe(200);
    expect(verified.data).toMatchObject({
      is_valid: true,
      status: KeyStatus.KeyStatusActive,
      key_id: key.key_id,
      actor_id: actorId,
      scopes: ["read"],
      metadata: { team: "e2e", v: 2 },
      expire_time: key.expire_time,
      visibility: KeyVisibility.KeyVisibilitySecret,
      issuer: ISSUER,
      error_code: VerificationErrorCode.VerificationErrorUnspecified,
      error_message: "",
      rate_limit_policy: { quota: "100", window: "60s", unit: "" },
    });
    expect(verified.data.rate_limit_remaining).toMatch(/^\d+$/);
    // the SDK's cacheControl parameter reaches the server
    const fresh = await admin.adminVerifyApiKey({ verifyApiKeyRequest: { credential: secret }, cacheControl: "no-cache" });
    expect(fresh.data.is_valid).toBe(true);
    expect(fresh.headers["ory-talos-cache"]).toBe("SKIP");

    const rotated = await admin.adminRotateIssuedApiKey({ keyId: key.key_id!, adminRotateIssuedApiKeyBody: { name: "rotated" } });
    expect(rotated.status).toBe(201);
    expect(Object.keys(rotated.data).sort()).toEqual(["issued_api_key", "old_issued_api_key", "secret"]);
    const next = rotated.data.issued_api_key!;
    expect(rotated.headers["location"]).toBe(`/v2alpha1/admin/issuedApiKeys/${next.key_id}`);
    expect(next.key_id).not.toBe(key.key_id);
    expect(next).toMatchObject({ name: "rotated", actor_id: actorId, scopes: ["read"], expire_time: key.expire_time, status: KeyStatus.KeyStatusActive });
    expect(rotated.data.old_issued_api_key).toMatchObject({
      key_id: key.key_id,
      status: KeyStatus.KeyStatusRevoked,
      revocation_reason: RevocationReason.RevocationReasonSuperseded,
    });
    const oldVerify = await admin.adminVerifyApiKey({ verifyApiKeyRequest: { credential: secret } });
    expect(oldVerify.data).toMatchObject({ is_valid: false, error_code: VerificationErrorCode.VerificationErrorRevoked, key_id: key.key_id });
    credentials.push(rotated.data.secret!);
    const newVerify = await admin.adminVerifyApiKey({ verifyApiKeyRequest: { credential: rotated.data.secret! } });
    expect(newVerify.data).toMatchObject({ is_valid: true, key_id: next.key_id });

    const revoked = await admin.adminRevokeIssuedApiKey({
      keyId: next.key_id!,
      adminRevokeIssuedApiKeyBody: { reason: RevocationReason.RevocationReasonPrivilegeWithdrawn, description: "left the team" },
    });
    expect(revoked.status).toBe(204);
    expect(revoked.data).toBeFalsy();
    const afterRevoke = await admin.adminGetIssuedApiKey({ keyId: next.key_id! });
    expect(afterRevoke.data).toMatchObject({
      status: KeyStatus.KeyStatusRevoked,
      revocation_reason: RevocationReason.RevocationReasonPrivilegeWithdrawn,
      revocation_description: "left the team",
    });
    const again = await sdkError(admin.adminRevokeIssuedApiKey({ keyId: next.key_id!, adminRevokeIssuedApiKeyBody: {} }));
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 409, status: "ALREADY_EXISTS", message: "key is already revoked" });
    const missing = await sdkError(admin.adminGetIssuedApiKey({ keyId: "00000000-0000-4000-8000-000000000000" }));
    expect(missing.status).toBe(404);
    expect(missing.body.error.details[0].reason).toBe("API_KEY_NOT_FOUND");
  });

  it("issued keys: selfRevoke (revokeApiKey) on the public surface", async () => {
    const actorId = actor("self");
    const issued = await admin.adminIssueApiKey({ issueApiKeyRequest: { name: "self", actor_id: actorId } });
    const { secret, issued_api_key: key } = issued.data;
    credentials.push(secret!);
    expect((await admin.adminVerifyApiKey({ verifyApiKeyRequest: { credential: secret! } })).data.is_valid).toBe(true);

    const res = await pub.revokeApiKey({
      selfRevokeApiKeyRequest: { credential: secret!, reason: RevocationReason.RevocationReasonAffiliationChanged },
    });
    expect(res.status).toBe(200);
    expect(res.data).toEqual({});
    const repeat = await pub.revokeApiKey({ selfRevokeApiKeyRequest: { credential: secret!, reason: RevocationReason.RevocationReasonKeyCompromise } });
    expect(repeat.status).toBe(200);

    const got = await admin.adminGetIssuedApiKey({ keyId: key!.key_id! });
    expect(got.data).toMatchObject({ status: KeyStatus.KeyStatusRevoked, revocation_reason: RevocationReason.RevocationReasonAffiliationChanged });
    const v = await admin.adminVerifyApiKey({ verifyApiKeyRequest: { credential: secret! }, cacheControl: "no-cache" });
    expect(v.data).toMatchObject({ is_valid: false, status: KeyStatus.KeyStatusUnspecified, error_code: VerificationErrorCode.VerificationErrorRevoked });

    const withdrawn = await sdkError(
      pub.revokeApiKey({ selfRevokeApiKeyRequest: { credential: secret!, reason: RevocationReason.RevocationReasonPrivilegeWithdrawn } }),
    );
    expect(withdrawn.status).toBe(400);
    const unknown = await sdkError(pub.revokeApiKey({ selfRevokeApiKeyRequest: { credential: `unknown-${actorId}` } }));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.status).toBe("NOT_FOUND");
  });

  it("imported keys: import -> batch import -> get -> list -> update -> verify -> revoke -> delete", async () => {
    const actorId = actor("imported");
    const imported = await admin.adminImportApiKey({
      importApiKeyRequest: { raw_key: VECTOR_RAW_KEY, name: "vector", actor_id: actorId, scopes: ["billing"], ttl: "720h" },
    });
    expect(imported.status).toBe(201);
    const key = imported.data;
    expect(imported.headers["location"]).toBe(`/v2alpha1/admin/importedApiKeys/${VECTOR_KEY_ID}`);
    expect(key).toMatchObject({
      key_id: VECTOR_KEY_ID,
      name: "vector",
      actor_id: actorId,
      scopes: ["billing"],
      status: KeyStatus.KeyStatusActive,
      metadata: null,
      rate_limit_policy: null,
      ip_restriction: null,
      visibility: KeyVisibility.KeyVisibilitySecret,
    });
    expect(Date.parse(key.expire_time!) - Date.parse(key.create_time!)).toBe(720 * 3_600_000);
    expect(JSON.stringify(key)).not.toContain(VECTOR_RAW_KEY);
    const duplicate = await sdkError(admin.adminImportApiKey({ importApiKeyRequest: { raw_key: VECTOR_RAW_KEY, name: "again", actor_id: actorId } }));
    expect(duplicate.status).toBe(409);

    const rawA = `sk_sdk_${randomBytes(12).toString("hex")}`;
    const rawB = `sk_sdk_${randomBytes(12).toString("hex")}`;
    credentials.push(VECTOR_RAW_KEY, rawA, rawB);
    const batch = await admin.adminBatchCreateImportedApiKeys({
      batchCreateImportedApiKeysRequest: {
        requests: [
          { raw_key: rawA, name: "a", actor_id: actorId },
          { raw_key: rawB, name: "b", actor_id: actorId, scopes: ["x"] },
          { raw_key: rawA, name: "a again", actor_id: actorId },
          { raw_key: TALOS_FORMAT_KEY, name: "talos", actor_id: actorId },
          { raw_key: `sk_sdk_${randomBytes(12).toString("hex")}`, name: "", actor_id: actorId },
        ],
      },
    });
    expect(batch.status).toBe(200);
    expect(batch.data.success_count).toBe(2);
    expect(batch.data.failure_count).toBe(3);
    const results = batch.data.results!;
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => r.error_code)).toEqual([
      BatchCreateImportedApiKeysErrorCode.BatchCreateImportedApiKeysErrorUnspecified,
      BatchCreateImportedApiKeysErrorCode.BatchCreateImportedApiKeysErrorUnspecified,
      BatchCreateImportedApiKeysErrorCode.BatchCreateImportedApiKeysErrorAlreadyExists,
      BatchCreateImportedApiKeysErrorCode.BatchCreateImportedApiKeysErrorFailedPrecondition,
      BatchCreateImportedApiKeysErrorCode.BatchCreateImportedApiKeysErrorInvalidArgument,
    ]);
    expect(results[0]!).toMatchObject({ error_message: "", imported_api_key: { name: "a", actor_id: actorId, status: KeyStatus.KeyStatusActive } });
    expect(results[2]!).toMatchObject({ error_message: "duplicate detected at index 0", imported_api_key: null });
    expect(results[3]!.imported_api_key).toBeNull();
    expect(results[4]!.error_message).toMatch(/name/);
    const idA = results[0]!.imported_api_key!.key_id!;
    const idB = results[1]!.imported_api_key!.key_id!;
    expect(idA).toMatch(/^[0-9a-f]{64}$/);

    const got = await admin.adminGetImportedApiKey({ keyId: VECTOR_KEY_ID });
    expect(got.data).toEqual(key);

    // paging through the SDK's page_size / page_token parameters
    const ids = [VECTOR_KEY_ID, idA, idB].sort();
    const page1 = await admin.adminListImportedApiKeys({ filter: `actor_id="${actorId}"`, pageSize: 2 });
    expect(page1.data.imported_api_keys!.map((k) => k.key_id)).toEqual(ids.slice(0, 2));
    expect(page1.data.next_page_token).not.toBe("");
    const page2 = await admin.adminListImportedApiKeys({ filter: `actor_id="${actorId}"`, pageSize: 2, pageToken: page1.data.next_page_token! });
    expect(page2.data.imported_api_keys!.map((k) => k.key_id)).toEqual(ids.slice(2));
    expect(page2.data.next_page_token).toBe("");

    const updated = await admin.adminUpdateImportedApiKey({
      keyId: VECTOR_KEY_ID,
      adminUpdateImportedApiKeyRequest: { name: "vector renamed", metadata: { source: "sdk" } },
      updateMask: "name,metadata",
    });
    expect(updated.status).toBe(200);
    expect(updated.data).toMatchObject({ key_id: VECTOR_KEY_ID, name: "vector renamed", metadata: { source: "sdk" }, scopes: ["billing"] });

    const verified = await admin.adminVerifyApiKey({ verifyApiKeyRequest: { credential: VECTOR_RAW_KEY } });
    expect(verified.data).toMatchObject({
      is_valid: true,
      status: KeyStatus.KeyStatusActive,
      key_id: VECTOR_KEY_ID,
      actor_id: actorId,
      scopes: ["billing"],
      metadata: { source: "sdk" },
      issuer: ISSUER,
      error_code: VerificationErrorCode.VerificationErrorUnspecified,
    });
    const batchVerified = await admin.adminBatchVerifyApiKeys({
      batchVerifyApiKeysRequest: { requests: [{ credential: rawA }, { credential: rawB }, { credential: "sk_sdk_never_imported" }] },
    });
    expect(batchVerified.data.results!.map((r) => [r.is_valid, r.key_id])).toEqual([
      [true, idA],
      [true, idB],
      [false, ""],
    ]);

    const revoked = await admin.adminRevokeImportedApiKey({
      keyId: VECTOR_KEY_ID,
      adminRevokeImportedApiKeyBody: { reason: RevocationReason.RevocationReasonKeyCompromise },
    });
    expect(revoked.status).toBe(204);
    const afterRevoke = await admin.adminVerifyApiKey({ verifyApiKeyRequest: { credential: VECTOR_RAW_KEY } });
    expect(afterRevoke.data).toMatchObject({ is_valid: false, error_code: VerificationErrorCode.VerificationErrorRevoked, key_id: VECTOR_KEY_ID });
    expect((await admin.adminGetImportedApiKey({ keyId: VECTOR_KEY_ID })).data).toMatchObject({
      status: KeyStatus.KeyStatusRevoked,
      revocation_reason: RevocationReason.RevocationReasonKeyCompromise,
    });

    // an imported key can revoke itself on the public surface too
    expect((await pub.revokeApiKey({ selfRevokeApiKeyRequest: { credential: rawB } })).status).toBe(200);
    expect((await admin.adminGetImportedApiKey({ keyId: idB })).data.status).toBe(KeyStatus.KeyStatusRevoked);

    const deleted = await admin.adminDeleteImportedApiKey({ keyId: VECTOR_KEY_ID });
    expect(deleted.status).toBe(204);
    expect((await sdkError(admin.adminGetImportedApiKey({ keyId: VECTOR_KEY_ID }))).status).toBe(404);
    expect((await sdkError(admin.adminDeleteImportedApiKey({ keyId: VECTOR_KEY_ID }))).status).toBe(404);
    // after a hard delete the same raw key can be imported again
    const reimported = await admin.adminImportApiKey({ importApiKeyRequest: { raw_key: VECTOR_RAW_KEY, name: "back", actor_id: actorId } });
    expect(reimported.status).toBe(201);
    expect(reimported.data).toMatchObject({ key_id: VECTOR_KEY_ID, status: KeyStatus.KeyStatusActive, name: "back" });
  });

  it("stops with exit code 0 and never logged a secret or raw key", async () => {
    for (const p of procs) expect(await p.stop()).toBe(0);
    expect(credentials.length).toBeGreaterThanOrEqual(6);
    for (const p of procs) {
      const output = [...p.stdout, ...p.stderr].join("\n");
      expect(output).toContain("HTTP request completed"); // the request log was written and read
      for (const c of credentials) expect(output.includes(c), `a credential appears in the output of ${p.proc.spawnargs.slice(2).join(" ")}`).toBe(false);
      expect(output).not.toContain(SECRET);
    }
  });
});
