/**
 * Events end to end (docs/events.md): `talos events list|get|redeliver` as child processes against a
 * real `talos serve`, and at-least-once delivery when a server is killed in the middle of deliveries.
 */
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { E2E_TIMEOUT_MS, fetchJson, runTalos, startTalos, stopAllTalos, type TalosProcess } from "../support/process.js";

afterAll(stopAllTalos);

const SECRET = "e2e-events-hmac-secret-0123456789abcdef";
const whsec = `whsec_${randomBytes(32).toString("base64")}`;

/** A receiver recording verified webhook ids; while `hold` is set it never answers (a hung endpoint). */
async function receiver() {
  const wh = new Webhook(whsec);
  const ids = new Set<string>();
  const state = { hold: false, held: 0 };
  const server = http.createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8").on("data", (d: string) => (text += d));
    req.on("end", () => {
      if (state.hold) {
        state.held++;
        return; // no answer: the sender is killed while waiting
      }
      try {
        wh.verify(text, req.headers as Record<string, string>);
        ids.add(String(req.headers["webhook-id"]));
        res.writeHead(204).end();
      } catch {
        res.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    ids,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(100);
  }
}

const envFor = (dsn: string, url: string) => ({
  TALOS_DB_DSN: dsn,
  TALOS_SECRETS_HMAC_CURRENT: SECRET,
  TALOS_CREDENTIALS_ISSUER: "https://talos.e2e",
  TALOS_EVENTS_WEBHOOKS: JSON.stringify([{ id: "r", url, secret: whsec }]),
  TALOS_EVENTS_DELIVERY_POLL_INTERVAL: "100ms",
  TALOS_EVENTS_DELIVERY_BACKOFF_BASE: "100ms",
  TALOS_EVENTS_DELIVERY_BACKOFF_MAX: "500ms",
  TALOS_EVENTS_DELIVERY_TIMEOUT: "1s",
});

describe("talos events (CLI)", () => {
  let server: TalosProcess;
  let rec: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    rec = await receiver();
    server = await startTalos({ args: ["serve"], env: envFor("memory", rec.url) });
  }, E2E_TIMEOUT_MS);
  afterAll(async () => {
    await rec?.close();
  });

  it(
    "list, get and redeliver",
    async () => {
      const actor = `cli-${randomUUID().slice(0, 8)}`;
      const issued = await fetchJson(`${server.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { name: "k", actor_id: actor } });
      expect(issued.status).toBe(201);
      const list = await runTalos(["events", "list", "--actor", actor, "--format", "json", "-e", server.apiUrl]);
      expect(list.code, list.stderr).toBe(0);
      const events = JSON.parse(list.stdout).events;
      expect(events.map((e: any) => e.type)).toEqual(["api_key.issued"]);
      expect(list.stdout).not.toContain(issued.body.secret);
      const id = events[0].id;
      await until(() => rec.ids.has(id));

      const table = await runTalos(["events", "list", "--type", "api_key.issued", "--actor", actor, "-e", server.apiUrl]);
      expect(table.stdout).toContain(id);
      const get = await runTalos(["events", "get", id, "--format", "json", "-e", server.apiUrl]);
      expect(get.code, get.stderr).toBe(0);
      expect(JSON.parse(get.stdout).deliveries[0]).toMatchObject({ webhook_id: "r", state: "delivered" });

      rec.ids.delete(id);
      const red = await runTalos(["events", "redeliver", id, "-e", server.apiUrl]);
      expect(red.code, red.stderr).toBe(0);
      expect(red.stdout).toContain("queued 1 deliveries");
      await until(() => rec.ids.has(id));

      const bad = await runTalos(["events", "list", "--filter", "nope=1", "-e", server.apiUrl]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^error: .*unknown field/);
    },
    E2E_TIMEOUT_MS,
  );
});

describe("killing a server mid-delivery loses nothing (PostgreSQL)", () => {
  if (!TEST_DSN) {
    warnSkip("the kill-mid-delivery test (PostgreSQL only)");
    it.skip("needs PostgreSQL", () => {});
    return;
  }
  it(
    "every event arrives after kill -9 and a restart",
    async () => {
      const rec = await receiver();
      const db = await freshDatabase("talos_events_kill");
      try {
        await runTalos(["migrate", "up"], { TALOS_DB_DSN: db.dsn });
        const env = envFor(db.dsn, rec.url);
        const first = await startTalos({ args: ["serve"], env });
        rec.state.hold = true;
        const actor = `kill-${randomUUID().slice(0, 8)}`;
        const requests = Array.from({ length: 50 }, () => ({ raw_key: `sk_test_${randomBytes(20).toString("hex")}`, name: "k", actor_id: actor }));
        const res = await fetchJson(`${first.apiUrl}/v2alpha1/admin/importedApiKeys:batchCreate`, { body: { requests } });
        expect(res.body.success_count).toBe(50);
        await until(() => rec.state.held > 0); // deliveries are in flight, unanswered
        first.proc.kill("SIGKILL");
        await new Promise((r) => first.proc.once("exit", r));
        rec.state.hold = false;
        const second = await startTalos({ args: ["serve"], env });
        const all = await fetchJson(`${second.apiUrl}/v2alpha1/admin/events?page_size=100&filter=${encodeURIComponent(`actor_id="${actor}"`)}`);
        const ids: string[] = all.body.events.map((e: any) => e.id);
        expect(ids).toHaveLength(50);
        await until(() => ids.every((id) => rec.ids.has(id)));
      } finally {
        await rec.close();
        await db.drop();
      }
    },
    E2E_TIMEOUT_MS * 2,
  );
});
