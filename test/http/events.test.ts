import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RevocationReason, issueKey, recordEvent, revokeKey, withPrincipal, type KeyEvent } from "@talos/core";
import { startOn, testDatabases, type TestServer } from "../support/harness.js";
import { ISSUED, SELF_REVOKE, actor, issue } from "../support/http-expect.js";

const EVENTS = "/v2alpha1/admin/events";
const IMPORTED = "/v2alpha1/admin/importedApiKeys";
const RAW = (_label: string) => `sk_test_${randomBytes(20).toString("hex")}`;

describe.each(testDatabases())("events outbox on $name", (db) => {
  let s: TestServer;
  const secrets: string[] = [];

  beforeAll(async () => {
    s = await startOn(db);
  });
  afterAll(async () => {
    // no stored event anywhere in this database carries a secret or raw key
    if (s) {
      const all = await s.built.store.repo.events.list(s.built.runtime.ctx.nid, { limit: 100_000 });
      const text = JSON.stringify(all);
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/ory_ak_v1_/);
      await s.close();
    }
  });

  const eventsOf = async (keyId: string) => {
    const res = await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`key_id="${keyId}"`)}`);
    expect(res.status).toBe(200);
    return res.body.events as Record<string, any>[];
  };

  it("issue, update, rotate, revoke: exactly one event each, newest first", async () => {
    const a = actor("ev");
    const { key, secret } = await issue(s, { actor_id: a, name: "n1", scopes: ["read"] });
    secrets.push(secret);
    expect((await s.request("PATCH", `${ISSUED}/${key.key_id}`, { name: "n2" })).status).toBe(200);
    const rot = await s.request("POST", `${ISSUED}/${key.key_id}:rotate`, {});
    expect(rot.status).toBe(201);
    secrets.push(rot.body.secret);
    const evs = await eventsOf(key.key_id);
    expect(evs.map((e) => e.type)).toEqual(["api_key.rotated", "api_key.updated", "api_key.issued"]);
    expect(evs[2]).toMatchObject({ key_kind: "issued", actor_id: a, source: "admin_api", payload: { name: "n1", scopes: ["read"] } });
    expect(evs[1]!.payload).toEqual({ changed_fields: ["name"], fields: { name: "n2" } });
    const newId = rot.body.issued_api_key.key_id;
    expect(evs[0]!.payload.new_key_id).toBe(newId);
    expect((await s.request("POST", `${ISSUED}/${newId}:revoke`, { reason: "REVOCATION_REASON_AFFILIATION_CHANGED" })).status).toBe(204);
    const revoked = await eventsOf(newId);
    expect(revoked.map((e) => e.type)).toEqual(["api_key.revoked"]);
    expect(revoked[0]!.payload.reason).toBe("REVOCATION_REASON_AFFILIATION_CHANGED");
    // by actor: all four, ids sort newest first
    const byActor = await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`actor_id="${a}"`)}`);
    const ids = byActor.body.events.map((e: KeyEvent) => e.id);
    expect(ids).toHaveLength(4);
    expect([...ids].sort().reverse()).toEqual(ids);
  });

  it("concurrent revocations of one key: one succeeds, one event; the others see it revoked (409, or 200 for self-revoke)", async () => {
    const a = actor("race");
    const admin = await issue(s, { actor_id: a });
    const self = await issue(s, { actor_id: a });
    secrets.push(admin.secret, self.secret);
    const [revokes, selfRevokes] = await Promise.all([
      Promise.all(Array.from({ length: 8 }, () => s.request("POST", `${ISSUED}/${admin.key.key_id}:revoke`, { reason: "REVOCATION_REASON_KEY_COMPROMISE" }))),
      Promise.all(Array.from({ length: 8 }, () => s.request("POST", SELF_REVOKE, { credential: self.secret }))),
    ]);
    expect(revokes.map((r) => r.status).sort()).toEqual([204, 409, 409, 409, 409, 409, 409, 409]);
    for (const r of revokes.filter((x) => x.status === 409)) expect(r.body.error.message).toBe("key is already revoked");
    expect(selfRevokes.map((r) => r.status)).toEqual(Array(8).fill(200));
    for (const key of [admin.key, self.key]) {
      expect((await eventsOf(key.key_id)).map((e) => e.type)).toEqual(["api_key.revoked", "api_key.issued"]);
      const stored = await s.request("GET", `${ISSUED}/${key.key_id}`);
      expect(stored.body.status).toBe("KEY_STATUS_REVOKED");
    }
    expect((await eventsOf(admin.key.key_id))[0]!.payload.reason).toBe("REVOCATION_REASON_KEY_COMPROMISE");
  });

  it("self-revoke, import, batch import, delete", async () => {
    const a = actor("ev2");
    const { key, secret } = await issue(s, { actor_id: a });
    secrets.push(secret);
    expect((await s.request("POST", SELF_REVOKE, { credential: secret })).status).toBe(200);
    expect((await s.request("POST", SELF_REVOKE, { credential: secret })).status).toBe(200); // idempotent: no second event
    const self = await eventsOf(key.key_id);
    expect(self.map((e) => [e.type, e.source])).toEqual([
      ["api_key.revoked", "self_revoke"],
      ["api_key.issued", "admin_api"],
    ]);

    const raw = RAW(a.replace(/-/g, ""));
    secrets.push(raw);
    const imp = await s.request("POST", IMPORTED, { raw_key: raw, name: "i", actor_id: a });
    expect(imp.status, imp.text).toBe(201);
    const batchRaw = [RAW(`b1${a.replace(/-/g, "")}`), RAW(`b2${a.replace(/-/g, "")}`)];
    secrets.push(...batchRaw);
    const batch = await s.request("POST", `${IMPORTED}:batchCreate`, { requests: [...batchRaw.map((r) => ({ raw_key: r, name: "b", actor_id: a })), { raw_key: raw, name: "dup" }] });
    expect(batch.status).toBe(200);
    expect(batch.body.success_count).toBe(2);
    expect((await s.request("DELETE", `${IMPORTED}/${imp.body.key_id}`)).status).toBe(204);
    expect((await eventsOf(imp.body.key_id)).map((e) => e.type)).toEqual(["api_key.deleted", "api_key.imported"]);
    const imported = await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`actor_id="${a}" AND type="api_key.imported"`)}`);
    expect(imported.body.events.map((e: any) => e.payload.operation).sort()).toEqual(["batch_import", "batch_import", "import"]);
  });

  it("a leak report's revocation is one api_key.leaked event; a bulk revoke names its source", async () => {
    const ctx = s.built.runtime.ctx;
    const a = actor("leak");
    const leaked = await issue(s, { actor_id: a });
    const bulk = await issue(s, { actor_id: a });
    secrets.push(leaked.secret, bulk.secret);
    const leak = { url: "https://github.com/o/r/blob/x/.env", source: "content" };
    await revokeKey(withPrincipal(ctx, { source: "secret_scanning", name: "github" }), null, leaked.key.key_id, { reason: RevocationReason.KEY_COMPROMISE, description: "", leak });
    await revokeKey(withPrincipal(ctx, { source: "bulk_revoke" }), "issued", bulk.key.key_id, { reason: RevocationReason.AFFILIATION_CHANGED, description: "" });
    const [l] = await eventsOf(leaked.key.key_id);
    expect(l).toMatchObject({ type: "api_key.leaked", source: "secret_scanning", principal: "github", payload: { reason: "REVOCATION_REASON_KEY_COMPROMISE", ...leak } });
    const [b] = await eventsOf(bulk.key.key_id);
    expect(b).toMatchObject({ type: "api_key.revoked", source: "bulk_revoke", principal: "" });
    // the leak report names the api_key.leaked type in the list filter too
    const onlyLeaks = await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`actor_id="${a}" AND type="api_key.leaked"`)}`);
    expect(onlyLeaks.body.events.map((e: any) => e.key_id)).toEqual([leaked.key.key_id]);
  });

  it("a rolled-back change leaves no event", async () => {
    const a = actor("rb");
    const ctx = s.built.runtime.ctx;
    await expect(
      ctx.store.transaction(async (repo) => {
        await recordEvent(ctx, repo, { type: "api_key.updated", record: { keyId: "rollback-key", kind: "imported", actorId: a }, payload: {} });
        throw new Error("forced rollback");
      }),
    ).rejects.toThrow("forced rollback");
    expect((await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`actor_id="${a}"`)}`)).body.events).toEqual([]);
    // an idempotent replay is not a mutation
    const input = { name: "", actorId: a, scopes: [], metadata: null, rateLimitPolicy: null, allowedCidrs: null, visibility: 0, requestId: "r-1" };
    await issueKey(ctx, input);
    await issueKey(ctx, input);
    expect((await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`actor_id="${a}"`)}`)).body.events).toHaveLength(1);
  });

  it("pages with page_token; filters by time; bad filters are 400", async () => {
    const a = actor("pg");
    for (let i = 0; i < 5; i++) secrets.push((await issue(s, { actor_id: a })).secret);
    const f = encodeURIComponent(`actor_id="${a}"`);
    const p1 = await s.request("GET", `${EVENTS}?page_size=3&filter=${f}`);
    expect(p1.body.events).toHaveLength(3);
    const p2 = await s.request("GET", `${EVENTS}?page_size=3&filter=${f}&page_token=${p1.body.next_page_token}`);
    expect(p2.body.events).toHaveLength(2);
    expect(p2.body.next_page_token).toBe("");
    const future = encodeURIComponent(`actor_id="${a}" AND occurred_time>="2999-01-01T00:00:00Z"`);
    expect((await s.request("GET", `${EVENTS}?filter=${future}`)).body.events).toEqual([]);
    const past = encodeURIComponent(`actor_id="${a}" AND occurred_time<"2999-01-01T00:00:00Z"`);
    expect((await s.request("GET", `${EVENTS}?filter=${past}`)).body.events).toHaveLength(5);
    for (const bad of ['type="nope"', "status=1", 'key_id>"x"', 'occurred_time>="yesterday"', 'actor_id="a" OR actor_id="b"']) {
      const res = await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.code).toBe(400);
    }
    // a token of another filter is refused
    expect((await s.request("GET", `${EVENTS}?page_token=${p1.body.next_page_token}`)).status).toBe(400);
  });

  it("GET /events/{id} shows the event; unknown ids are 404", async () => {
    const { key, secret } = await issue(s, { actor_id: actor("get") });
    secrets.push(secret);
    const [e] = await eventsOf(key.key_id);
    const res = await s.request("GET", `${EVENTS}/${e!.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ event: e, deliveries: [] });
    expect((await s.request("GET", `${EVENTS}/0190c8a0-0000-7000-8000-000000000000`)).status).toBe(404);
    expect((await s.request("GET", `${EVENTS}/not-a-uuid`)).status).toBe(404);
    expect((await s.request("POST", `${EVENTS}/not-a-uuid:redeliver`)).status).toBe(404);
  });
});
