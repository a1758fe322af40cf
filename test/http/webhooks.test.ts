import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { loadConfig } from "@talos/core";
import { silentLogger } from "@talos/http";
import { createServer } from "@talos/server";
import { TEST_ISSUER, TEST_SECRET, startOn, startTestServer, testDatabases, type TestServer } from "../support/harness.js";
import { actor, issue } from "../support/http-expect.js";

const EVENTS = "/v2alpha1/admin/events";
const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

interface Received {
  id: string;
  body: any;
  verified: boolean;
}

/** A real webhook receiver: verifies each request with standardwebhooks; `fail(id)` decides a 500. */
async function receiver(secret: string, fail: (id: string, attempt: number) => boolean = () => false) {
  const wh = new Webhook(secret);
  const got: Received[] = [];
  const attempts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const id = String(req.headers["webhook-id"]);
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (fail(id, n)) return res.writeHead(500).end();
      let verified = false;
      try {
        wh.verify(text, req.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      got.push({ id, body: JSON.parse(text), verified });
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    attempts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(50);
  }
}

const FAST = {
  "events.delivery.poll_interval": "50ms",
  "events.delivery.backoff_base": "50ms",
  "events.delivery.backoff_max": "200ms",
  "events.delivery.timeout": "5s",
};

describe.each(testDatabases())("webhooks on $name", (db) => {
  const okSecret = newSecret();
  const deadSecret = newSecret();
  let ok: Awaited<ReturnType<typeof receiver>>;
  let flaky: Awaited<ReturnType<typeof receiver>>;
  let down: Awaited<ReturnType<typeof receiver>>;
  let failDown = true;
  let s: TestServer;

  beforeAll(async () => {
    ok = await receiver(okSecret);
    flaky = await receiver(okSecret, (_id, n) => n <= 2); // fails the first 2 attempts
    down = await receiver(deadSecret, () => failDown);
    s = await startOn(db, {
      overrides: {
        ...FAST,
        "events.delivery.max_attempts": 3,
        "events.webhooks": [
          { id: "ok", url: ok.url, secret: okSecret, types: ["api_key.issued", "api_key.revoked"] },
          { id: "flaky", url: flaky.url, secret: okSecret, types: ["api_key.issued"] },
          { id: "down", url: down.url, secret: deadSecret, types: ["api_key.issued"] },
        ],
      },
    });
  });
  afterAll(async () => {
    await s?.close();
    await Promise.all([ok?.close(), flaky?.close(), down?.close()]);
  });

  it("delivers signed events; a failing receiver gets it on attempt N+1; dead-letter; redeliver", async () => {
    const a = actor("wh");
    const { key, secret } = await issue(s, { actor_id: a });
    const list = await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`key_id="${key.key_id}"`)}`);
    const eventId = list.body.events[0].id;

    await until(() => ok.got.some((g) => g.id === eventId) && flaky.got.some((g) => g.id === eventId));
    const delivered = ok.got.find((g) => g.id === eventId)!;
    expect(delivered.verified).toBe(true);
    expect(delivered.body).toMatchObject({ type: "api_key.issued", data: { id: eventId, key_id: key.key_id, actor_id: a } });
    expect(JSON.stringify(delivered.body)).not.toContain(secret);
    expect(flaky.attempts.get(eventId)).toBe(3);
    expect(flaky.got.find((g) => g.id === eventId)!.verified).toBe(true);

    // the always-failing endpoint: dead after max_attempts (3)
    await until(async () => {
      const r = await s.request("GET", `${EVENTS}/${eventId}`);
      return r.body.deliveries.find((d: any) => d.webhook_id === "down")?.state === "dead";
    });
    const detail = (await s.request("GET", `${EVENTS}/${eventId}`)).body;
    const byHook = Object.fromEntries(detail.deliveries.map((d: any) => [d.webhook_id, d]));
    expect(byHook.ok).toMatchObject({ state: "delivered", attempts: 1, last_status: 204 });
    expect(byHook.flaky).toMatchObject({ state: "delivered", attempts: 3, last_status: 204 });
    expect(byHook.down).toMatchObject({ state: "dead", attempts: 3, last_status: 500, last_error: "HTTP 500" });
    expect(down.attempts.get(eventId)).toBe(3);

    // redeliver: the receiver is back; every delivery of the event goes out again
    failDown = false;
    const red = await s.request("POST", `${EVENTS}/${eventId}:redeliver`);
    expect(red.status).toBe(200);
    expect(red.body).toEqual({ deliveries: 3 });
    await until(() => down.got.some((g) => g.id === eventId && g.verified));
    await until(() => ok.got.filter((g) => g.id === eventId).length === 2);

    // the metrics show outcomes and the queue
    const metrics = await s.built.metrics.registry.metrics();
    expect(metrics).toMatch(/talos_event_deliveries_total\{webhook="down",outcome="dead"\} 1/);
    expect(metrics).toMatch(/talos_event_queue_depth \d+/);
  });

  it("types filter what a webhook receives", async () => {
    const { key } = await issue(s, { actor_id: actor("wt") });
    expect((await s.request("POST", `/v2alpha1/admin/issuedApiKeys/${key.key_id}:revoke`, { reason: "REVOCATION_REASON_KEY_COMPROMISE" })).status).toBe(204);
    const evs = (await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`key_id="${key.key_id}"`)}`)).body.events;
    const revokedId = evs.find((e: any) => e.type === "api_key.revoked").id;
    await until(() => ok.got.some((g) => g.id === revokedId));
    const detail = (await s.request("GET", `${EVENTS}/${revokedId}`)).body;
    expect(detail.deliveries.map((d: any) => d.webhook_id)).toEqual(["ok"]);
  });
});

describe.each(testDatabases())("expiry warnings on $name", (db) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startOn(db, { overrides: { "events.scan_interval": "200ms", "events.expiring_before": ["1h", "2s"] } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("emits expiring (once, narrowest window) then expired, once each", async () => {
    const { key } = await issue(s, { actor_id: actor("exp"), ttl: "4s" });
    const types = async () =>
      (await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`key_id="${key.key_id}"`)}`)).body.events.map((e: any) => e.type).reverse();
    await until(async () => (await types()).includes("api_key.expired"), 60_000);
    await sleep(600); // a few more scans: nothing repeats
    const all = (await s.request("GET", `${EVENTS}?filter=${encodeURIComponent(`key_id="${key.key_id}"`)}`)).body.events.reverse();
    expect(all.map((e: any) => e.type)).toEqual(["api_key.issued", "api_key.expiring", "api_key.expiring", "api_key.expired"]);
    expect(all.slice(1, 3).map((e: any) => e.payload.expiring_before)).toEqual(["1h", "2s"]);
    expect(all[3].source).toBe("expiry_scan");
  });
});

describe("several instances on one PostgreSQL database", () => {
  if (!TEST_DSN) {
    warnSkip("two-instance webhook and expiry tests (PostgreSQL only)");
    it.skip("needs PostgreSQL", () => {});
    return;
  }
  const secret = newSecret();
  let rec: Awaited<ReturnType<typeof receiver>>;
  let a: TestServer;
  let b: TestServer;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    rec = await receiver(secret);
    const fresh = await freshDatabase("talos_events");
    drop = fresh.drop;
    const overrides = {
      "db.dsn": fresh.dsn,
      ...FAST,
      "events.delivery.concurrency": 8,
      "events.scan_interval": "200ms",
      "events.expiring_before": "1h",
      "events.webhooks": [{ id: "r", url: rec.url, secret }],
    };
    a = await startTestServer({ overrides });
    b = await startTestServer({ overrides });
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await drop?.();
    await rec?.close();
  });

  it("deliver each of 1000 events once (counted at the receiver)", async () => {
    const who = actor("many");
    const requests = Array.from({ length: 1000 }, () => ({ raw_key: `sk_test_${randomBytes(20).toString("hex")}`, name: "m", actor_id: who }));
    const res = await a.request("POST", "/v2alpha1/admin/importedApiKeys:batchCreate", { requests });
    expect(res.body.success_count).toBe(1000);
    const ours = () => rec.got.filter((g) => g.body.data.actor_id === who);
    await until(() => ours().length >= 1000, 120_000);
    await sleep(500);
    const ids = ours().map((g) => g.id);
    expect(ids.length).toBe(1000);
    expect(new Set(ids).size).toBe(1000);
    expect(ours().every((g) => g.verified)).toBe(true);
  });

  it("expiry warnings fire once across two instances", async () => {
    const { key } = await issue(a, { actor_id: actor("exp2"), ttl: "3s" });
    const list = async () => (await b.request("GET", `${EVENTS}?filter=${encodeURIComponent(`key_id="${key.key_id}"`)}`)).body.events;
    await until(async () => (await list()).some((e: any) => e.type === "api_key.expired"), 60_000);
    await sleep(600);
    expect((await list()).map((e: any) => e.type).reverse()).toEqual(["api_key.issued", "api_key.expiring", "api_key.expired"]);
  });
});

describe("webhooks follow a configuration reload (docs/events.md#reload)", () => {
  it("new events go to the webhooks of the reloaded configuration, signed with their secrets", async () => {
    const [s1, s2] = [newSecret(), newSecret()];
    const [r1, r2] = [await receiver(s1), await receiver(s2)];
    const base = { "db.dsn": "memory", "secrets.hmac.current": TEST_SECRET, "credentials.issuer": TEST_ISSUER, ...FAST };
    const webhook = (url: string, secret: string) => ({ "events.webhooks": [{ id: "hook", url, secret }] });
    const built = await createServer(loadConfig({ env: {}, overrides: { ...base, ...webhook(r1.url, s1) } }).config, { logger: silentLogger, migrate: true });
    try {
      const l = await built.listen("all", { host: "127.0.0.1", port: 0 });
      const issueVia = async (who: string) => {
        const res = await fetch(`http://127.0.0.1:${l.port}/v2alpha1/admin/issuedApiKeys`, { method: "POST", body: JSON.stringify({ actor_id: who }) });
        expect(res.status).toBe(201);
        return ((await res.json()) as { issued_api_key: { key_id: string } }).issued_api_key.key_id;
      };
      const before = await issueVia(actor("reload-before"));
      await until(() => r1.got.some((g) => g.body.data.key_id === before && g.verified));

      const result = await built.reload(() => loadConfig({ env: {}, overrides: { ...base, ...webhook(r2.url, s2) } }), "test");
      expect(result.outcome).toBe("applied");
      const after = await issueVia(actor("reload-after"));
      await until(() => r2.got.some((g) => g.body.data.key_id === after && g.verified));
      await sleep(300);
      expect(r1.got.some((g) => g.body.data.key_id === after)).toBe(false);
      expect(r2.got.some((g) => g.body.data.key_id === before)).toBe(false);
    } finally {
      await built.close();
      await Promise.all([r1.close(), r2.close()]);
    }
  });
});

describe("webhooks: a server without background work (talos serve public)", () => {
  it("records events but delivers nothing: delivery is left to the admin processes", async () => {
    const secret = newSecret();
    const rec = await receiver(secret);
    const overrides = { "db.dsn": "memory", "secrets.hmac.current": TEST_SECRET, "credentials.issuer": TEST_ISSUER, ...FAST, "events.webhooks": [{ id: "hook", url: rec.url, secret }] };
    const built = await createServer(loadConfig({ env: {}, overrides }).config, { logger: silentLogger, migrate: true, background: false });
    try {
      const app = built.app("all");
      const res = await app.request("/v2alpha1/admin/issuedApiKeys", { method: "POST", body: JSON.stringify({ actor_id: actor("bg-off") }) });
      expect(res.status).toBe(201);
      const keyId = ((await res.json()) as { issued_api_key: { key_id: string } }).issued_api_key.key_id;
      const list = (await (await app.request(`${EVENTS}?filter=${encodeURIComponent(`key_id="${keyId}"`)}`)).json()) as { events: { id: string }[] };
      expect(list.events).toHaveLength(1);
      await sleep(1_000); // 20 poll intervals of the FAST settings
      expect(rec.got).toHaveLength(0);
      const detail = (await (await app.request(`${EVENTS}/${list.events[0]!.id}`)).json()) as { deliveries: { state: string; attempts: number }[] };
      expect(detail.deliveries).toEqual([expect.objectContaining({ state: "pending", attempts: 0 })]);
    } finally {
      await built.close();
      await rec.close();
    }
  });
});
