/**
 * POST /v2alpha1/admin/apiKeys:batchRevoke (docs/leaked-keys.md#bulk-revoke-by-owner): every active
 * key of one actor, through the core revoke verb one key at a time, in calls of at most 1000.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type AuditEvent } from "@talos/core";
import { silentLogger } from "@talos/http";
import { createServer, type TalosServer } from "@talos/server";
import { TEST_ISSUER, TEST_SECRET, testDatabases } from "../support/harness.js";
import { ISSUED, actor, issuedRecord } from "../support/http-expect.js";

const BATCH_REVOKE = "/v2alpha1/admin/apiKeys:batchRevoke";
const IMPORTED = "/v2alpha1/admin/importedApiKeys";
const VERIFY = "/v2alpha1/admin/apiKeys:verify";

interface Instance {
  built: TalosServer;
  events: AuditEvent[];
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string }>;
}

async function instance(dsn: string): Promise<Instance> {
  const { config } = loadConfig({ env: {}, overrides: { "db.dsn": dsn, "secrets.hmac.current": TEST_SECRET, "credentials.issuer": TEST_ISSUER } });
  const events: AuditEvent[] = [];
  const built = await createServer(config, { logger: silentLogger, migrate: true, observers: { event: (e) => events.push(e) } });
  const app = built.app("all");
  return {
    built,
    events,
    async call(method, path, body, headers = {}) {
      const res = await app.request(path, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
    },
  };
}

describe.each(testDatabases())("batch revoke by actor on $name", (db) => {
  let a: Instance;
  /** a second instance on the same database (PostgreSQL only): its cache must learn of every revocation */
  let b: Instance | null = null;
  let drop = async () => {};

  beforeAll(async () => {
    const created = await db.create();
    drop = created.drop;
    a = await instance(created.dsn);
    if (db.name !== "embedded") b = await instance(created.dsn);
  }, 180_000);
  afterAll(async () => {
    await b?.built.close();
    await a?.built.close();
    await drop();
  }, 120_000);

  const issue = async (actorId: string) => {
    const r = await a.call("POST", ISSUED, { name: "bulk", actor_id: actorId });
    expect(r.status, r.text).toBe(201);
    return { keyId: r.body.issued_api_key.key_id as string, secret: r.body.secret as string };
  };
  const importKey = async (actorId: string) => {
    const raw = `bulk-imported-${randomUUID()}`;
    const r = await a.call("POST", IMPORTED, { raw_key: raw, name: "bulk", actor_id: actorId });
    expect(r.status, r.text).toBe(201);
    return { keyId: r.body.key_id as string, secret: raw };
  };
  const verifyOn = async (i: Instance, secret: string) => (await i.call("POST", VERIFY, { credential: secret })).body;
  const revokeAll = async (filter: string, extra: Record<string, unknown> = {}) => {
    let total = 0;
    let calls = 0;
    let token = "";
    do {
      const r = await a.call("POST", BATCH_REVOKE, { filter, reason: "REVOCATION_REASON_AFFILIATION_CHANGED", ...extra, ...(token && { page_token: token }) });
      expect(r.status, r.text).toBe(200);
      expect(r.body.revoked_count).toBeLessThanOrEqual(1000);
      total += r.body.revoked_count;
      token = r.body.next_page_token;
      calls++;
    } while (token !== "");
    return { total, calls };
  };

  it(
    "revokes 5000+ keys of one actor (issued and imported), leaves other actors alone, evicts caches, one event per key",
    async () => {
      const owner = actor("leaver");
      const other = actor("stays");
      const now = Date.now();
      const bulk = Array.from({ length: 5000 }, () => issuedRecord({ actorId: owner }, now));
      await a.built.store.repo.insertKeys(bulk);
      const expired = issuedRecord({ actorId: owner, expireTime: new Date(now - 1000) }, now - 5000);
      await a.built.store.repo.insertKey(expired);
      const live = [await issue(owner), await issue(owner), await importKey(owner), await importKey(owner)];
      const already = await issue(owner);
      expect((await a.call("POST", `${ISSUED}/${already.keyId}:revoke`, { reason: "REVOCATION_REASON_SUPERSEDED" })).status).toBe(204);
      const others = [await issue(other), await importKey(other)];
      // warm both instances' caches
      for (const k of [...live, ...others]) {
        expect((await verifyOn(a, k.secret)).is_valid).toBe(true);
        if (b) expect((await verifyOn(b, k.secret)).is_valid).toBe(true);
      }
      const eventsBefore = a.events.length;

      const { total, calls } = await revokeAll(`actor_id="${owner}"`);
      expect(total).toBe(5004);
      expect(calls).toBe(6);

      const revokedEvents = a.events.slice(eventsBefore).filter((e) => e.event === "APIKeyRevoked");
      expect(revokedEvents).toHaveLength(5004);
      expect(new Set(revokedEvents.map((e) => e.keyId)).size).toBe(5004);
      expect(revokedEvents.every((e) => e.actorId === owner && e.event === "APIKeyRevoked" && e.reason === 2 && !e.self)).toBe(true);

      for (const k of live) {
        expect((await verifyOn(a, k.secret)).error_code, "this instance").toBe("VERIFICATION_ERROR_REVOKED");
      }
      if (b) {
        const inst = b;
        // cross-instance invalidation rides the database's notifications: give it a moment
        await expect
          .poll(async () => (await Promise.all(live.map((k) => verifyOn(inst, k.secret)))).map((v) => v.error_code), { timeout: 15_000 })
          .toEqual(live.map(() => "VERIFICATION_ERROR_REVOKED"));
      }
      for (const k of others) expect((await verifyOn(a, k.secret)).is_valid).toBe(true);
      const list = await a.call("GET", `${ISSUED}?page_size=1000&filter=${encodeURIComponent(`actor_id="${owner}" AND status=KEY_STATUS_ACTIVE`)}`);
      expect(list.body.issued_api_keys).toEqual([]);
      const sample = (await a.call("GET", `${ISSUED}/${bulk[1234]!.keyId}`)).body;
      expect(sample.status).toBe("KEY_STATUS_REVOKED");
      expect(sample.revocation_reason).toBe("REVOCATION_REASON_AFFILIATION_CHANGED");
      // untouched: an already revoked key keeps its reason; an expired key is not active
      expect((await a.call("GET", `${ISSUED}/${already.keyId}`)).body.revocation_reason).toBe("REVOCATION_REASON_SUPERSEDED");
      expect((await a.call("GET", `${ISSUED}/${expired.keyId}`)).body.status).toBe("KEY_STATUS_EXPIRED");

      // nothing left: a further call revokes nothing
      expect((await a.call("POST", BATCH_REVOKE, { filter: `actor_id="${owner}"` })).body).toEqual({ revoked_count: 0, next_page_token: "" });
    },
    600_000,
  );

  it("kind=imported revokes only imported keys; PRIVILEGE_WITHDRAWN carries its description", async () => {
    const owner = actor("kind");
    const iss = await issue(owner);
    const imp = await importKey(owner);
    const r = await a.call("POST", BATCH_REVOKE, {
      filter: `actor_id="${owner}" AND kind=imported`,
      reason: "REVOCATION_REASON_PRIVILEGE_WITHDRAWN",
      description: "left the company",
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ revoked_count: 1, next_page_token: "" });
    const got = (await a.call("GET", `${IMPORTED}/${imp.keyId}`)).body;
    expect(got.status).toBe("KEY_STATUS_REVOKED");
    expect(got.revocation_description).toBe("left the company");
    expect((await a.call("GET", `${ISSUED}/${iss.keyId}`)).body.status).toBe("KEY_STATUS_ACTIVE");
  });

  it("400 for a bad filter, body or continuation; nothing revoked", async () => {
    const owner = actor("bad");
    const k = await issue(owner);
    const cases: [unknown, string][] = [
      [{}, "filter"],
      [{ filter: "" }, "filter"],
      [{ filter: `status=KEY_STATUS_ACTIVE` }, "filter"],
      [{ filter: `actor_id="${owner}" AND status=KEY_STATUS_ACTIVE` }, "filter"],
      [{ filter: `actor_id="${owner}" OR actor_id="x"` }, "filter"],
      [{ filter: `actor_id="${owner}" AND kind=derived` }, "filter"],
      [{ filter: `actor_id=${owner}` }, "filter"],
      [{ filter: `name="${owner}"` }, "filter"],
      [{ filter: `actor_id="${owner}"`, description: "why" }, "description"],
      [{ filter: `actor_id="${owner}"`, reason: "REVOCATION_REASON_NOPE" }, "reason"],
      [{ filter: `actor_id="${owner}"`, page_token: "garbage" }, "page_token"],
      [{ filter: 5 }, "filter"],
    ];
    for (const [body, field] of cases) {
      const r = await a.call("POST", BATCH_REVOKE, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.status).toBe("INVALID_ARGUMENT");
      expect(r.body.error.details[0].metadata.field, JSON.stringify(body)).toBe(field);
    }
    expect((await a.call("GET", `${ISSUED}/${k.keyId}`)).body.status).toBe("KEY_STATUS_ACTIVE");
  });

  it("a list page token does not continue a batch revoke", async () => {
    const owner = actor("tok");
    await a.built.store.repo.insertKeys(Array.from({ length: 3 }, () => issuedRecord({ actorId: owner }, Date.now())));
    const list = await a.call("GET", `${ISSUED}?page_size=1&filter=${encodeURIComponent(`actor_id="${owner}"`)}`);
    expect(list.body.next_page_token).not.toBe("");
    const r = await a.call("POST", BATCH_REVOKE, { filter: `actor_id="${owner}"`, page_token: list.body.next_page_token });
    expect(r.status).toBe(400);
  });
});
