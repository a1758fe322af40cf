import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintIssuedKey, type AuditEvent, type Repo, type Store } from "@talos/core";
import { TEST_SECRET, startOn, testDatabases, type TestResponse, type TestServer } from "../support/harness.js";

/**
 * POST /v2alpha1/admin/importedApiKeys:batchCreate (docs/keys.md#batch-import, with docs/keys.md#import per item and docs/keys.md#idempotency
 * replays), on the embedded database and PostgreSQL.
 */

const NIL = "00000000-0000-0000-0000-000000000000";
const BASE = "/v2alpha1/admin/importedApiKeys";
const BATCH = `${BASE}:batchCreate`;
const HOUR = 3_600_000;
const TALOS_FORMAT = "raw_key uses a Talos credential format and cannot be imported";
const DUPLICATE = "key already imported (duplicate detected)";
const RID_CONFLICT = "request_id was already used with different parameters";
const E = {
  OK: "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_UNSPECIFIED",
  INVALID: "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_INVALID_ARGUMENT",
  EXISTS: "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_ALREADY_EXISTS",
  PRECONDITION: "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_FAILED_PRECONDITION",
  INTERNAL: "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_INTERNAL",
  EXHAUSTED: "BATCH_CREATE_IMPORTED_API_KEYS_ERROR_RESOURCE_EXHAUSTED",
} as const;

const keyIdOf = (raw: string): string =>
  createHash("sha512-256")
    .update(Buffer.concat([Buffer.from(NIL, "ascii"), Buffer.from([0]), Buffer.from(raw, "utf8")]))
    .digest("hex");
const uniq = (): string => randomBytes(6).toString("hex");
const newRaw = (): string => `sk_batch_${randomBytes(20).toString("hex")}`;
const actor = (what: string): string => `${what}-${uniq()}`;
const ms = (t: string | null): number => Date.parse(t!);
const f = encodeURIComponent;

function expectError(res: TestResponse, code: number, status: string, reason: string, message: string, failureCount?: number): void {
  expect(res.status, res.text.slice(0, 500)).toBe(code);
  expect(res.body.error).toMatchObject({ code, status, message });
  expect(res.body.error.details[0]).toMatchObject({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "www.ory.com/talos" });
  if (failureCount !== undefined) expect(res.body.error.details[0].metadata.failure_count).toBe(String(failureCount));
}

/** A deterministic PRNG, so a failing layout can be reproduced from the printed seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Counts every repo call the request makes (pool repo and the transaction's repo), and transactions.
 * Only calls made inside `measure()` count: the server's background work (expiry scan, webhook
 * dispatcher, last-used flusher) runs its own transactions on timers, outside the request.
 */
function countStoreCalls(s: TestServer) {
  const store = s.built.store;
  const counts = new Map<string, number>();
  const inRequest = new AsyncLocalStorage<true>();
  const bump = (k: string) => {
    if (inRequest.getStore()) counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  const counting = (repo: Repo): Repo =>
    new Proxy(repo, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          bump(String(prop));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  const origTx = store.transaction;
  const run = origTx.bind(store) as Store["transaction"];
  const origRepo = store.repo;
  const pooled = counting(origRepo);
  (store as { transaction: typeof origTx }).transaction = <T,>(fn: (repo: Repo) => Promise<T>): Promise<T> => {
    bump("transaction");
    return run((repo) => fn(counting(repo)));
  };
  (store as { repo: Repo }).repo = pooled;
  return {
    counts,
    measure: <T,>(fn: () => Promise<T>): Promise<T> => inRequest.run(true, fn),
    // touchLastUsed is the last-used flusher, whose timer may first be armed inside a request
    total: () => [...counts].filter(([k]) => k !== "transaction" && k !== "touchLastUsed").reduce((n, [, c]) => n + c, 0),
    restore() {
      (store as { transaction: typeof origTx }).transaction = origTx;
      (store as { repo: Repo }).repo = origRepo;
    },
  };
}

/** Makes the transaction repo's multi-row insert fail, as a storage error would. */
function failInserts(s: TestServer) {
  const store = s.built.store;
  const origTx = store.transaction;
  const run = origTx.bind(store) as Store["transaction"];
  (store as { transaction: typeof origTx }).transaction = <T,>(fn: (repo: Repo) => Promise<T>): Promise<T> =>
    run((repo) =>
      fn(
        new Proxy(repo, {
          get(target, prop, receiver) {
            if (prop === "insertKeys" || prop === "insertKey") return async () => Promise.reject(new Error("injected storage failure"));
            const v = Reflect.get(target, prop, receiver);
            return typeof v === "function" ? v.bind(target) : v;
          },
        }),
      ),
    );
  return () => void ((store as { transaction: typeof origTx }).transaction = origTx);
}

/** Records the audit events of the runtime (instrumentation of the real hook). */
function captureEvents(s: TestServer) {
  const hooks = s.built.runtime.ctx.hooks;
  const orig = hooks.event;
  const events: AuditEvent[] = [];
  hooks.event = (e) => {
    events.push(e);
    orig.call(hooks, e);
  };
  return { events, restore: () => void (hooks.event = orig) };
}

describe.each(testDatabases())("batch import on $name", (db) => {
  let s: TestServer;
  let q: TestServer; // quota.api_keys_max = 5
  const QUOTA = 5;

  beforeAll(async () => {
    [s, q] = await Promise.all([
      startOn(db),
      startOn(db, {
        overrides: {
          "quota.api_keys_max": QUOTA,
          "credentials.api_keys.prefix.public_current": "pub_ak",
          "credentials.api_keys.prefix.retired": ["old_ak"],
          "credentials.derived_tokens.macaroon.prefix.retired": ["oldmc"],
        },
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([s?.close(), q?.close()]);
  });

  const batch = (server: TestServer, requests: unknown, headers?: Record<string, string>) =>
    server.request("POST", BATCH, requests === undefined ? {} : { requests }, headers);

  async function listAll(server: TestServer, filter: string, kind: "imported" | "issued" = "imported"): Promise<{ key_id: string; name: string; actor_id: string }[]> {
    const base = kind === "imported" ? BASE : "/v2alpha1/admin/issuedApiKeys";
    const out = [];
    let token = "";
    do {
      const r = await server.request("GET", `${base}?page_size=1000&filter=${f(filter)}${token ? `&page_token=${f(token)}` : ""}`);
      expect(r.status, r.text).toBe(200);
      out.push(...r.body[`${kind}_api_keys`]);
      token = r.body.next_page_token;
    } while (token);
    return out;
  }

  /** Revokes or imports keys on the quota server until exactly n non-revoked (issued + imported) keys exist. */
  async function setLive(n: number): Promise<void> {
    const imported = await listAll(q, "status=KEY_STATUS_ACTIVE");
    const issued = await listAll(q, "status=KEY_STATUS_ACTIVE", "issued");
    let live = imported.length + issued.length;
    const victims = [...imported.map((k) => `${BASE}/${k.key_id}`), ...issued.map((k) => `/v2alpha1/admin/issuedApiKeys/${k.key_id}`)];
    for (const path of victims) {
      if (live <= n) break;
      expect((await q.request("POST", `${path}:revoke`, {})).status).toBe(204);
      live--;
    }
    for (; live < n; live++) {
      expect((await q.request("POST", BASE, { raw_key: newRaw(), name: "filler", actor_id: "filler" })).status).toBe(201);
    }
  }

  describe("request shape", () => {
    it("0 items or requests absent → 400 'requests must contain at least one item'", async () => {
      for (const body of [{}, { requests: [] }, { requests: null }, undefined, ""]) {
        const res = await s.request("POST", BATCH, body);
        expectError(res, 400, "INVALID_ARGUMENT", "BAD_REQUEST", "requests must contain at least one item");
      }
      const notArray = await s.request("POST", BATCH, { requests: { raw_key: "x" } });
      expect(notArray.status).toBe(400);
      expect(notArray.body.error.details[0].metadata.field).toBe("requests");
      expect((await s.request("POST", BATCH, "{oops")).status).toBe(400);
    });

    it("the largest batch of the longest keys fits in the 4 MiB body limit; a larger body → 413", async () => {
      const who = actor("big");
      const items = Array.from({ length: 1000 }, (_, i) => ({ raw_key: `${uniq()}-${i}-`.padEnd(4096, "k"), name: "n", actor_id: who }));
      expect(JSON.stringify({ requests: items }).length).toBeLessThan(4 * 1024 * 1024);
      const ok = await batch(s, items);
      expect(ok.status).toBe(200);
      expect(ok.body.success_count).toBe(1000);
      expect(ok.text.includes(items[0]!.raw_key)).toBe(false);
      expect((await listAll(s, `actor_id="${who}"`)).map((k) => k.key_id)).toEqual(items.map((it) => keyIdOf(it.raw_key)).sort());

      const who2 = actor("toobig");
      const tooBig = items.map((it) => ({ ...it, raw_key: `${it.raw_key.slice(0, 4000)}x`, actor_id: who2, metadata: { pad: "p".repeat(300) } }));
      expect(JSON.stringify({ requests: tooBig }).length).toBeGreaterThan(4 * 1024 * 1024);
      const res = await batch(s, tooBig);
      expect(res.status, res.text.slice(0, 300)).toBe(413);
      expect(res.body.error).toMatchObject({ code: 413, status: "RESOURCE_EXHAUSTED" });
      expect(res.body.error.details[0].reason).toBe("REQUEST_TOO_LARGE");
      expect(await listAll(s, `actor_id="${who2}"`)).toEqual([]);
    });

    it("1001 items → 400 'maximum 1000 keys per batch', nothing stored (exactly 1000: the mixed batch below)", async () => {
      const who = actor("over");
      const items = Array.from({ length: 1001 }, () => ({ raw_key: newRaw(), name: "n", actor_id: who }));
      expectError(await batch(s, items), 400, "INVALID_ARGUMENT", "BAD_REQUEST", "maximum 1000 keys per batch");
      expect(await listAll(s, `actor_id="${who}"`)).toEqual([]);
    });

    it("an item with a tiny non-zero ttl (1ns, 1µs, 0.0000000001s) is INVALID_ARGUMENT, not imported with the default expiry", async () => {
      const who = actor("tiny-ttl");
      const ttls = ["1ns", "100ns", "1us", "1µs", "0.0000000001s"];
      const res = await batch(s, [{ raw_key: newRaw(), name: "ok", actor_id: who }, ...ttls.map((ttl) => ({ raw_key: newRaw(), name: "t", actor_id: who, ttl }))]);
      expect(res.status, res.text).toBe(200);
      expect(res.body.success_count).toBe(1);
      expect(res.body.results.slice(1).map((r: { error_code: string; error_message: string }) => [r.error_code, r.error_message])).toEqual(
        ttls.map((_, i) => [E.INVALID, `requests[${i + 1}].ttl: must be between 1s and 315360000s`]),
      );
      expect(await listAll(s, `actor_id="${who}"`)).toHaveLength(1);
    });

    it("camelCase items, the full resource per success, results ordered by index", async () => {
      const who = actor("camel");
      const raws = [newRaw(), newRaw()];
      const res = await batch(s, [
        { rawKey: raws[0], name: "c0", actorId: who, rateLimitPolicy: { quota: "9", window: "30s", unit: "content-bytes" }, ipRestriction: { allowedCidrs: ["10.0.0.0/8"] }, requestId: randomUUID() },
        { raw_key: raws[1], name: "c1", actor_id: who, scopes: ["x"], metadata: {}, ttl: "2h", visibility: 2 },
      ]);
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get("location")).toBeNull();
      expect(Object.keys(res.body).sort()).toEqual(["failure_count", "results", "success_count"]);
      expect(res.body.success_count).toBe(2);
      expect(res.body.failure_count).toBe(0);
      const [a, b] = res.body.results;
      expect(Object.keys(a).sort()).toEqual(["error_code", "error_message", "imported_api_key", "index"]);
      expect(a).toMatchObject({ index: 0, error_code: E.OK, error_message: "" });
      expect(a.imported_api_key).toMatchObject({
        key_id: keyIdOf(raws[0]!),
        name: "c0",
        actor_id: who,
        scopes: [],
        status: "KEY_STATUS_ACTIVE",
        metadata: null,
        last_used_time: null,
        rate_limit_policy: { quota: "9", window: "30s", unit: "content-bytes" },
        ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] },
        revocation_reason: "REVOCATION_REASON_UNSPECIFIED",
        revocation_description: "",
        visibility: "KEY_VISIBILITY_SECRET",
      });
      expect(Object.keys(a.imported_api_key)).toHaveLength(15);
      expect(ms(a.imported_api_key.expire_time) - ms(a.imported_api_key.create_time)).toBe(8760 * HOUR);
      expect(b).toMatchObject({ index: 1, error_code: E.OK, error_message: "" });
      expect(b.imported_api_key).toMatchObject({ key_id: keyIdOf(raws[1]!), scopes: ["x"], metadata: {}, visibility: "KEY_VISIBILITY_PUBLIC" });
      expect(ms(b.imported_api_key.expire_time) - ms(b.imported_api_key.create_time)).toBe(2 * HOUR);
      for (const r of res.body.results) {
        const got = await s.request("GET", `${BASE}/${r.imported_api_key.key_id}`);
        expect(got.body).toEqual(r.imported_api_key);
      }
      // the raw keys verify and are never echoed
      for (const raw of raws) {
        expect(res.text).not.toContain(raw);
        expect((await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: raw }, {}, "10.0.0.1")).body.is_valid).toBe(true);
      }
    });
  });

  describe("a 1000-item batch", () => {
    it("mixes good, duplicate, already-imported, invalid, Talos-format and replayed items: exact results, nothing lost, a handful of statements", async () => {
      const seed = Math.floor(Math.random() * 2 ** 31);
      const rnd = prng(seed);
      const batchActor = actor("batch");
      const preActor = actor("pre");

      // already imported (one earlier batch) and three single imports with request_id (to be replayed)
      const existing = Array.from({ length: 21 }, (_, i) => ({ raw_key: newRaw(), name: `pre-${i}`, actor_id: preActor }));
      const pre = await batch(s, existing);
      expect(pre.body.success_count).toBe(21);
      const replayBodies = Array.from({ length: 3 }, (_, i) => ({ raw_key: newRaw(), name: `replay-${i}`, actor_id: preActor, scopes: ["r"], ttl: "24h", request_id: randomUUID() }));
      const originals: Record<string, unknown>[] = [];
      for (const body of replayBodies) {
        const r = await s.request("POST", BASE, body);
        expect(r.status).toBe(201);
        originals.push(r.body);
      }
      const issuedSecrets: string[] = [];
      for (let i = 0; i < 2; i++) issuedSecrets.push((await s.request("POST", "/v2alpha1/admin/issuedApiKeys", { name: "i", actor_id: batchActor })).body.secret);

      type Expected = { code: string; message: string; keyId: string | null; check?: (k: Record<string, unknown>) => void };
      const items: unknown[] = [];
      const expected: Expected[] = [];
      const stored = new Map<string, string>(); // key_id -> name of the item that created it
      const firstGood: number[] = []; // indices of items that created a key, in order
      const firstIndexOfRaw = new Map<string, number>();
      let existingUsed = 0;
      let talosUsed = 0;
      let invalidUsed = 0;

      const good = (i: number, extra: Record<string, unknown> = {}): void => {
        const raw = newRaw();
        const v = i % 7;
        const name = `good-${i}`;
        const body: Record<string, unknown> =
          v === 6 ? { rawKey: raw, name, actorId: batchActor } : { raw_key: raw, name, actor_id: batchActor };
        if (v === 1) body.scopes = ["s", `i${i}`];
        if (v === 2) body.ttl = "48h";
        if (v === 3) body.metadata = { i };
        if (v === 4) body.rate_limit_policy = { quota: i + 1, window: "60s" };
        if (v === 5) Object.assign(body, { ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] }, visibility: "KEY_VISIBILITY_PUBLIC" });
        Object.assign(body, extra);
        items.push(body);
        firstIndexOfRaw.set(raw, i);
        stored.set(keyIdOf(raw), name);
        firstGood.push(i);
        expected.push({
          code: E.OK,
          message: "",
          keyId: keyIdOf(raw),
          check: (k) => {
            expect(k).toMatchObject({ name, actor_id: batchActor, status: "KEY_STATUS_ACTIVE", revocation_reason: "REVOCATION_REASON_UNSPECIFIED" });
            expect(k.scopes).toEqual(v === 1 ? ["s", `i${i}`] : []);
            expect(k.metadata).toEqual(v === 3 ? { i } : null);
            expect(k.rate_limit_policy).toEqual(v === 4 ? { quota: String(i + 1), window: "60s", unit: "" } : null);
            expect(k.ip_restriction).toEqual(v === 5 ? { allowed_cidrs: ["10.0.0.0/8"] } : null);
            expect(k.visibility).toBe(v === 5 ? "KEY_VISIBILITY_PUBLIC" : "KEY_VISIBILITY_SECRET");
            expect(ms(k.expire_time as string) - ms(k.create_time as string)).toBe((v === 2 ? 48 : 8760) * HOUR);
          },
        });
      };
      const fail = (item: unknown, code: string, message: string) => {
        items.push(item);
        expected.push({ code, message, keyId: null });
      };
      const invalid = (i: number): void => {
        const kinds: [Record<string, unknown> | string, string][] = [
          [{ raw_key: newRaw(), actor_id: batchActor }, `requests[${i}].name: is required`],
          [{ raw_key: newRaw(), name: "x", actor_id: batchActor, ttl: "abc" }, `requests[${i}].ttl: invalid duration "abc"`],
          [
            { raw_key: newRaw(), name: "x", actor_id: batchActor, ip_restriction: { allowed_cidrs: ["10.0.0.0"] } },
            `requests[${i}].ip_restriction.allowed_cidrs[0]: must be an IPv4 or IPv6 CIDR with a prefix length, such as 10.0.0.0/8`,
          ],
          [{ raw_key: newRaw(), name: "x", actor_id: "" }, `requests[${i}].actor_id: is required`],
          [{ raw_key: `sk_${"z".repeat(4094)}`, name: "x", actor_id: batchActor }, `requests[${i}].raw_key: must be at most 4096 characters`],
          [{ raw_key: newRaw(), name: "x", actor_id: batchActor, scopes: ["ok", ""] }, `requests[${i}].scopes[1]: must be 1 to 128 characters`],
          [{ raw_key: newRaw(), name: "x", actor_id: batchActor, ttl: "-5s" }, `requests[${i}].ttl: must be between 1s and 315360000s`],
          [{ raw_key: newRaw(), name: "x", actor_id: batchActor, rate_limit_policy: { quota: 0, window: "1s" } }, `requests[${i}].rate_limit_policy.quota: must be between 1 and 9007199254740991`],
          [{ name: "x", actor_id: batchActor }, `requests[${i}].raw_key: is required`],
          [{ raw_key: newRaw(), name: "x", actor_id: batchActor, request_id: "r".repeat(37) }, `requests[${i}].request_id: must be at most 36 characters`],
        ];
        const [item, message] = kinds[invalidUsed++ % kinds.length]!;
        fail(item, E.INVALID, message);
      };
      const talos = (): void => {
        const now = Math.floor(Date.now() / 1000);
        const forms = [
          () => issuedSecrets[talosUsed % 2]!,
          () => mintIssuedKey({ prefix: "acme", secret: "another-installation-secret-0123456789", keyId: randomUUID(), unixSeconds: now }),
          () => mintIssuedKey({ prefix: "ory_ak", secret: `${TEST_SECRET}-not`, keyId: randomUUID(), unixSeconds: now }),
          () => `eyJ${randomBytes(8).toString("base64url")}.${randomBytes(8).toString("base64url")}.${randomBytes(8).toString("base64url")}`,
          () => `mc_v1_${randomBytes(12).toString("hex")}`,
        ];
        const raw = forms[talosUsed++ % forms.length]!();
        fail({ raw_key: raw, name: "t", actor_id: batchActor }, E.PRECONDITION, TALOS_FORMAT);
      };

      // fixed positions for the order-sensitive cases, a shuffled pool for the rest
      const pool: string[] = [
        ...Array(30).fill("invalid"),
        ...Array(10).fill("talos"),
        ...Array(19).fill("existing"),
        ...Array(24).fill("dup"),
        ...Array(3).fill("replay"),
        "mismatch",
        "ttl-over-max",
      ];
      const fixed: Record<number, string> = { 0: "good", 1: "good", 2: "good", 3: "rid-first", 7: "existing-first", 420: "dup-existing", 421: "dup-existing", 500: "rid-replay", 901: "rid-mismatch", 999: "dup-of-0" };
      const fixedCount = Object.keys(fixed).length;
      while (pool.length < 1000 - fixedCount) pool.push("good");
      for (let i = pool.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      }
      const ridBatch = randomUUID();
      let ridFirstBody: Record<string, unknown> | undefined;
      let ridFirstKeyId = "";
      let existingFirstIndex = -1;
      let existingFirstRaw = "";
      let replayUsed = 0;
      for (let i = 0; i < 1000; i++) {
        const kind = fixed[i] ?? pool.pop()!;
        switch (kind) {
          case "good":
            good(i);
            break;
          case "rid-first":
            good(i, { request_id: ridBatch });
            ridFirstBody = items[i] as Record<string, unknown>;
            ridFirstKeyId = expected[i]!.keyId!;
            break;
          case "rid-replay":
            items.push({ ...ridFirstBody });
            expected.push({ code: E.OK, message: "", keyId: ridFirstKeyId, check: (k) => expect(k.name).toBe("good-3") });
            break;
          case "rid-mismatch":
            fail({ ...ridFirstBody, name: "changed" }, E.EXISTS, RID_CONFLICT);
            break;
          case "existing-first":
          case "existing": {
            const e = existing[existingUsed++]!;
            if (kind === "existing-first") [existingFirstIndex, existingFirstRaw] = [i, e.raw_key];
            firstIndexOfRaw.set(e.raw_key, i);
            fail({ ...e, name: `again-${i}`, actor_id: batchActor }, E.EXISTS, DUPLICATE);
            break;
          }
          case "dup-existing":
            fail({ raw_key: existingFirstRaw, name: `dup-${i}`, actor_id: batchActor }, E.EXISTS, `duplicate detected at index ${existingFirstIndex}`);
            break;
          case "dup":
          case "dup-of-0": {
            const first = kind === "dup-of-0" ? 0 : firstGood[Math.floor(rnd() * firstGood.length)]!;
            const raw = ((items[first] as Record<string, string>).raw_key ?? (items[first] as Record<string, string>).rawKey)!;
            fail({ raw_key: raw, name: `dup-${i}`, actor_id: batchActor }, E.EXISTS, `duplicate detected at index ${first}`);
            break;
          }
          case "replay": {
            const n = replayUsed++;
            items.push({ ...replayBodies[n] });
            expected.push({ code: E.OK, message: "", keyId: keyIdOf(replayBodies[n]!.raw_key), check: (k) => expect(k).toEqual(originals[n]) });
            break;
          }
          case "mismatch":
            fail({ ...replayBodies[0], scopes: ["other"] }, E.EXISTS, RID_CONFLICT);
            break;
          case "ttl-over-max":
            fail({ raw_key: newRaw(), name: "x", actor_id: batchActor, ttl: "9000h" }, E.INVALID, `requests[${i}].ttl: `);
            break;
          case "invalid":
            invalid(i);
            break;
          case "talos":
            talos();
            break;
          default:
            throw new Error(`unknown kind ${kind}`);
        }
      }
      expect(items).toHaveLength(1000);
      expect(existingFirstIndex).toBe(7);
      const wantSuccess = expected.filter((e) => e.code === E.OK).length;
      expect(wantSuccess).toBeGreaterThan(880);

      const calls = countStoreCalls(s);
      const audit = captureEvents(s);
      const t0 = performance.now();
      let res: TestResponse;
      try {
        res = await calls.measure(() => batch(s, items));
      } finally {
        calls.restore();
        audit.restore();
      }
      const elapsed = performance.now() - t0;
      console.log(
        `[${db.name}] 1000-item batch import (seed ${seed}): ${elapsed.toFixed(0)} ms, ${calls.total()} repo calls ${JSON.stringify(Object.fromEntries(calls.counts))}`,
      );

      expect(res.status, res.text.slice(0, 500)).toBe(200);
      const results = res.body.results as { index: number; error_code: string; error_message: string; imported_api_key: Record<string, unknown> | null }[];
      expect(results).toHaveLength(1000);
      for (let i = 0; i < 1000; i++) {
        const r = results[i]!;
        const want = expected[i]!;
        const label = `item ${i} (seed ${seed})`;
        expect(r.index, label).toBe(i);
        expect(r.error_code, label).toBe(want.code);
        if (want.message.endsWith(": ")) {
          expect(r.error_message.startsWith(want.message), `${label}: ${r.error_message}`).toBe(true);
          expect(r.error_message).toContain("exceeds the project maximum");
        } else expect(r.error_message, label).toBe(want.message);
        if (want.keyId === null) expect(r.imported_api_key, label).toBeNull();
        else {
          expect(r.imported_api_key?.key_id, label).toBe(want.keyId);
          want.check?.(r.imported_api_key!);
        }
      }
      expect(res.body.success_count).toBe(wantSuccess);
      expect(res.body.failure_count).toBe(1000 - wantSuccess);

      // a handful of statements, not one per item; one transaction; one multi-row insert
      expect(calls.counts.get("transaction")).toBe(1);
      expect(calls.counts.get("insertKeys")).toBe(1);
      expect(calls.counts.get("insertKey") ?? 0).toBe(0);
      expect(calls.counts.get("getKey") ?? 0).toBe(0);
      expect(calls.total()).toBeLessThanOrEqual(6);

      // exactly one creation event per stored key, none for replays or failures
      const created = audit.events.filter((e) => e.event === "APIKeyCreated");
      expect(created.every((e) => e.event === "APIKeyCreated" && e.operation === "batch_import" && e.kind === "imported")).toBe(true);
      expect(created.map((e) => e.keyId).sort()).toEqual([...stored.keys()].sort());

      // nothing lost, no extras: the batch actor owns exactly the keys created by good items
      const mine = await listAll(s, `actor_id="${batchActor}"`);
      expect(mine.map((k) => k.key_id)).toEqual([...stored.keys()].sort());
      for (const k of mine) expect(k.name).toBe(stored.get(k.key_id));
      // the earlier keys are unchanged and no new key appeared for their owner
      const theirs = await listAll(s, `actor_id="${preActor}"`);
      expect(theirs.map((k) => k.key_id).sort()).toEqual([...existing.map((e) => keyIdOf(e.raw_key)), ...replayBodies.map((b) => keyIdOf(b.raw_key))].sort());
      for (const k of theirs) expect(k.name).toMatch(/^(pre|replay)-\d+$/);
      // stored keys are verifiable with their raw keys (sample of 100, one batch verify)
      const sample = firstGood.slice(0, 100).map((i) => {
        const it = items[i] as Record<string, string>;
        return it.raw_key ?? it.rawKey;
      });
      const v = await s.request("POST", "/v2alpha1/admin/apiKeys:batchVerify", { requests: sample.map((credential) => ({ credential })) }, {}, "10.1.1.1");
      expect(v.status).toBe(200);
      expect(v.body.results.map((r: { key_id: string }) => r.key_id)).toEqual(sample.map((raw) => keyIdOf(raw!)));
      expect(v.body.results.every((r: { is_valid: boolean }) => r.is_valid)).toBe(true);
    });
  });

  describe("replays and storage failures", () => {
    it("a replay carries the original resource in its current state; the issue namespace is separate", async () => {
      const who = actor("rep");
      const rid = randomUUID();
      const body = { raw_key: newRaw(), name: "orig", actor_id: who, request_id: rid };
      const first = await s.request("POST", BASE, body);
      expect(first.status).toBe(201);
      await s.request("POST", `${BASE}/${first.body.key_id}:revoke`, { reason: "REVOCATION_REASON_SUPERSEDED" });
      const issuedRid = randomUUID();
      expect((await s.request("POST", "/v2alpha1/admin/issuedApiKeys", { name: "i", actor_id: who, request_id: issuedRid })).status).toBe(201);
      const fresh = { raw_key: newRaw(), name: "new", actor_id: who, request_id: issuedRid };
      const res = await batch(s, [body, fresh]);
      expect(res.status, res.text).toBe(200);
      expect(res.body.results[0]).toEqual({ index: 0, imported_api_key: (await s.request("GET", `${BASE}/${first.body.key_id}`)).body, error_code: E.OK, error_message: "" });
      expect(res.body.results[0].imported_api_key).toMatchObject({ status: "KEY_STATUS_REVOKED", revocation_reason: "REVOCATION_REASON_SUPERSEDED", name: "orig" });
      expect(res.body.results[1]).toMatchObject({ index: 1, error_code: E.OK, imported_api_key: { key_id: keyIdOf(fresh.raw_key), name: "new" } });
      // and a batch-created request_id is replayable by the single endpoint
      const single = await s.request("POST", BASE, fresh);
      expect(single.status).toBe(200);
      expect(single.body).toEqual(res.body.results[1].imported_api_key);
    });

    /** Sends `calls` identical batches at once; every answer must be the sequential replay's (issue 12 defect 2). */
    async function concurrentReplays(items: number, calls: number): Promise<void> {
      const who = actor("race");
      const requests = Array.from({ length: items }, (_, i) => ({ raw_key: newRaw(), name: `race-${i}`, actor_id: who, request_id: randomUUID() }));
      const answers = await Promise.all(Array.from({ length: calls }, () => batch(s, requests)));
      for (const res of answers) expect([res.status, res.text.slice(0, 300)]).toEqual([200, expect.any(String)]);
      const stored = await listAll(s, `actor_id="${who}"`);
      expect(stored).toHaveLength(items);
      // a sequential replay afterwards is the reference answer: every concurrent one must equal it
      const replay = await batch(s, requests);
      expect(replay.status).toBe(200);
      expect(replay.body.results.map((r: { error_code: string }) => r.error_code)).toEqual(requests.map(() => E.OK));
      for (const res of answers) expect(res.body.results).toEqual(replay.body.results);
      expect(replay.body.results.map((r: { imported_api_key: { key_id: string } }) => r.imported_api_key.key_id)).toEqual(requests.map((r) => keyIdOf(r.raw_key)));
    }

    it("concurrent identical batches with request_ids answer like sequential replays: 200 items × 10 calls", async () => {
      await concurrentReplays(200, 10);
    });

    it("concurrent identical batches with request_ids answer like sequential replays: 1 item × 2 calls, 10 trials", async () => {
      for (let trial = 0; trial < 10; trial++) await concurrentReplays(1, 2);
    });

    it("a storage failure fails only the items being inserted (INTERNAL); other results stand; nothing half-stored", async () => {
      const who = actor("fault");
      const rid = randomUUID();
      const original = { raw_key: newRaw(), name: "kept", actor_id: who, request_id: rid };
      expect((await s.request("POST", BASE, original)).status).toBe(201);
      const a = newRaw();
      const b = newRaw();
      const bItem = { raw_key: b, name: "b", actor_id: who, request_id: randomUUID() };
      const restore = failInserts(s);
      let res: TestResponse;
      try {
        // item 4 replays item 3's request_id inside the batch: it must share item 3's fate
        res = await batch(s, [original, { raw_key: a, name: "a", actor_id: who }, { name: "no raw key", actor_id: who }, bItem, bItem]);
      } finally {
        restore();
      }
      expect(res.status, res.text).toBe(200);
      expect(res.body.success_count).toBe(1);
      expect(res.body.failure_count).toBe(4);
      expect(res.body.results.map((r: { error_code: string }) => r.error_code)).toEqual([E.OK, E.INTERNAL, E.INVALID, E.INTERNAL, E.INTERNAL]);
      expect(res.body.results[1].error_message).toBe("An internal server error occurred.");
      for (const i of [3, 4]) {
        expect(res.body.results[i]).toEqual({ index: i, imported_api_key: null, error_code: E.INTERNAL, error_message: "An internal server error occurred." });
      }
      expect(res.text).not.toContain("injected");
      expect((await listAll(s, `actor_id="${who}"`)).map((k) => k.name)).toEqual(["kept"]);
      // with storage back, the same items import fine
      const again = await batch(s, [{ raw_key: a, name: "a", actor_id: who }, bItem, bItem]);
      expect(again.body.success_count).toBe(3);
      expect(again.body.results[2].imported_api_key).toEqual(again.body.results[1].imported_api_key);
      expect((await listAll(s, `actor_id="${who}"`)).map((k) => k.name).sort()).toEqual(["a", "b", "kept"]);
    });
  });

  describe("every item fails", () => {
    it("the dominant code picks the envelope, with failure_count", async () => {
      const who = actor("allfail");
      const existing = { raw_key: newRaw(), name: "e", actor_id: who };
      expect((await s.request("POST", BASE, existing)).status).toBe(201);
      const bad = (i: number) => ({ raw_key: newRaw(), actor_id: who, _i: i }); // missing name
      const talos = () => ({ raw_key: `mc_v1_${uniq()}`, name: "t", actor_id: who });

      // INVALID_ARGUMENT: 400 with the first such item's message
      expectError(await batch(s, [bad(0), { raw_key: newRaw(), name: "x", actor_id: who, ttl: "nope" }]), 400, "INVALID_ARGUMENT", "BAD_REQUEST", "requests[0].name: is required", 2);
      // ALREADY_EXISTS: 409 (the first occurrence is itself a duplicate of a stored key)
      expectError(await batch(s, [existing, existing, { ...existing, name: "other" }]), 409, "ALREADY_EXISTS", "CONFLICT", "all keys in batch already exist", 3);
      // FAILED_PRECONDITION: 409 with the first such item's message
      expectError(await batch(s, [talos(), talos()]), 409, "FAILED_PRECONDITION", "FAILED_PRECONDITION", TALOS_FORMAT, 2);
      // the most frequent code wins over the tie order
      expectError(await batch(s, [bad(0), existing, existing]), 409, "ALREADY_EXISTS", "CONFLICT", "all keys in batch already exist", 3);
      expectError(await batch(s, [existing, talos(), talos()]), 409, "FAILED_PRECONDITION", "FAILED_PRECONDITION", TALOS_FORMAT, 3);
      expectError(await batch(s, [talos(), bad(1), bad(2)]), 400, "INVALID_ARGUMENT", "BAD_REQUEST", "requests[1].name: is required", 3);
      // ties: INVALID_ARGUMENT > ALREADY_EXISTS > FAILED_PRECONDITION
      expectError(await batch(s, [existing, bad(1)]), 400, "INVALID_ARGUMENT", "BAD_REQUEST", "requests[1].name: is required", 2);
      expectError(await batch(s, [talos(), existing]), 409, "ALREADY_EXISTS", "CONFLICT", "all keys in batch already exist", 2);
      expectError(await batch(s, [talos(), existing, bad(2)]), 400, "INVALID_ARGUMENT", "BAD_REQUEST", "requests[2].name: is required", 3);
      // request_id conflicts count as ALREADY_EXISTS
      const rid = randomUUID();
      expect((await s.request("POST", BASE, { raw_key: newRaw(), name: "r", actor_id: who, request_id: rid })).status).toBe(201);
      expectError(await batch(s, [{ raw_key: newRaw(), name: "r2", actor_id: who, request_id: rid }]), 409, "ALREADY_EXISTS", "CONFLICT", "all keys in batch already exist", 1);
      // nothing was stored by any of these
      expect((await listAll(s, `actor_id="${who}"`)).map((k) => k.name).sort()).toEqual(["e", "r"]);
    });

    it("all INTERNAL → 500 with the generic message", async () => {
      const restore = failInserts(s);
      let res: TestResponse;
      try {
        res = await batch(s, [{ raw_key: newRaw(), name: "a", actor_id: "internal" }, { raw_key: newRaw(), name: "b", actor_id: "internal" }]);
      } finally {
        restore();
      }
      expectError(res, 500, "INTERNAL", "INTERNAL_SERVER_ERROR", "An internal server error occurred.", 2);
      expect(res.text).not.toContain("injected");
    });
  });

  describe("configured prefixes (server with public, retired issued and retired macaroon prefixes)", () => {
    it("keys in any configured format are rejected, singly and in a batch; look-alikes with other tags are imported", async () => {
      await setLive(0);
      const who = actor("prefix");
      const pub = await q.request("POST", "/v2alpha1/admin/issuedApiKeys", { name: "p", actor_id: who, visibility: "KEY_VISIBILITY_PUBLIC" });
      expect(pub.status, pub.text).toBe(201);
      expect(pub.body.secret.startsWith("pub_ak_v1_")).toBe(true);
      const retired = mintIssuedKey({ prefix: "old_ak", secret: TEST_SECRET, keyId: randomUUID(), unixSeconds: Math.floor(Date.now() / 1000) });
      const talos = [pub.body.secret, retired, `oldmc_v1_${uniq()}`, `mc_v1_${uniq()}`];
      for (const raw of talos) {
        const r = await q.request("POST", BASE, { raw_key: raw, name: "t", actor_id: who });
        expectError(r, 409, "FAILED_PRECONDITION", "FAILED_PRECONDITION", TALOS_FORMAT);
      }
      const lookAlike = `oldmc_v2_${uniq()}`;
      const res = await batch(q, [...talos.map((raw) => ({ raw_key: raw, name: "t", actor_id: who })), { raw_key: lookAlike, name: "ok", actor_id: who }]);
      expect(res.status, res.text).toBe(200);
      expect(res.body.results.map((r: { error_code: string }) => r.error_code)).toEqual([E.PRECONDITION, E.PRECONDITION, E.PRECONDITION, E.PRECONDITION, E.OK]);
      expect(res.body.results.slice(0, 4).every((r: { error_message: string }) => r.error_message === TALOS_FORMAT)).toBe(true);
      expect((await listAll(q, `actor_id="${who}"`)).map((k) => k.key_id)).toEqual([keyIdOf(lookAlike)]);
    });
  });

  describe("quota", () => {
    it("single import: quota.api_keys_max counts non-revoked issued + imported keys (429 with limit and current_usage)", async () => {
      await setLive(QUOTA - 3);
      const who = actor("single");
      expect((await q.request("POST", "/v2alpha1/admin/issuedApiKeys", { name: "q", actor_id: who })).status).toBe(201);
      const a = { raw_key: newRaw(), name: "q1", actor_id: who, request_id: randomUUID() };
      expect((await q.request("POST", BASE, a)).status).toBe(201);
      const b = { raw_key: newRaw(), name: "q2", actor_id: who };
      const bRes = await q.request("POST", BASE, b);
      expect(bRes.status).toBe(201);
      const over = await q.request("POST", BASE, { raw_key: newRaw(), name: "q3", actor_id: who });
      expectError(over, 429, "RESOURCE_EXHAUSTED", "API_KEY_QUOTA_EXCEEDED", "API key quota exceeded");
      expect(over.body.error.details[0].metadata).toMatchObject({ limit: String(QUOTA), current_usage: String(QUOTA) });
      // at the limit: a replay is still answered, a duplicate is still a duplicate
      expect((await q.request("POST", BASE, a)).status).toBe(200);
      expectError(await q.request("POST", BASE, { ...b, name: "again" }), 409, "ALREADY_EXISTS", "API_KEY_EXISTS", DUPLICATE);
      // nothing was stored for the rejected import
      expect((await listAll(q, `actor_id="${who}"`)).map((k) => k.key_id).sort()).toEqual([keyIdOf(a.raw_key), keyIdOf(b.raw_key)].sort());
      // revoked keys do not count
      expect((await q.request("POST", `${BASE}/${bRes.body.key_id}:revoke`, {})).status).toBe(204);
      const fits = await q.request("POST", BASE, { raw_key: newRaw(), name: "q4", actor_id: who });
      expect(fits.status, fits.text).toBe(201);
      const over2 = await q.request("POST", BASE, { raw_key: newRaw(), name: "q5", actor_id: who });
      expectError(over2, 429, "RESOURCE_EXHAUSTED", "API_KEY_QUOTA_EXCEEDED", "API key quota exceeded");
      expect(over2.body.error.details[0].metadata).toMatchObject({ limit: String(QUOTA), current_usage: String(QUOTA) });
    });

    it("quota reached mid-batch: later items RESOURCE_EXHAUSTED, earlier good ones stay", async () => {
      await setLive(1);
      const who = actor("mid");
      const dupOfStored = { raw_key: newRaw(), name: "x", actor_id: who };
      expect((await q.request("POST", BASE, dupOfStored)).status).toBe(201); // 2 live keys now
      const raws = Array.from({ length: 6 }, () => newRaw());
      const items = [
        { raw_key: raws[0], name: "g0", actor_id: who },
        { raw_key: raws[1], name: "g1", actor_id: who },
        { ...dupOfStored, name: "dup" }, // a duplicate is reported as such even at the limit
        { raw_key: raws[2], name: "g2", actor_id: who },
        { raw_key: raws[3], name: "g3", actor_id: who }, // live would be 6 > 5
        { raw_key: raws[4], name: "g4", actor_id: who },
        { raw_key: `mc_v1_${uniq()}`, name: "t", actor_id: who },
        { raw_key: raws[5], name: "g5", actor_id: who },
      ];
      const res = await batch(q, items);
      expect(res.status, res.text).toBe(200);
      expect(res.body.results.map((r: { error_code: string; error_message: string }) => [r.error_code, r.error_message])).toEqual([
        [E.OK, ""],
        [E.OK, ""],
        [E.EXISTS, DUPLICATE],
        [E.OK, ""],
        [E.EXHAUSTED, "API key quota exceeded"],
        [E.EXHAUSTED, "API key quota exceeded"],
        [E.PRECONDITION, TALOS_FORMAT],
        [E.EXHAUSTED, "API key quota exceeded"],
      ]);
      expect(res.body.success_count).toBe(3);
      expect(res.body.failure_count).toBe(5);
      expect((await listAll(q, `actor_id="${who}"`)).map((k) => k.name).sort()).toEqual(["g0", "g1", "g2", "x"]);
      expect((await listAll(q, "status=KEY_STATUS_ACTIVE")).length + (await listAll(q, "status=KEY_STATUS_ACTIVE", "issued")).length).toBe(QUOTA);
    });

    it("all items over quota → 429; ties: FAILED_PRECONDITION beats RESOURCE_EXHAUSTED, which beats INTERNAL", async () => {
      await setLive(QUOTA);
      const who = actor("full");
      const g = () => ({ raw_key: newRaw(), name: "g", actor_id: who });
      expectError(await batch(q, [g(), g()]), 429, "RESOURCE_EXHAUSTED", "API_KEY_QUOTA_EXCEEDED", "API key quota exceeded", 2);
      expectError(await batch(q, [g(), { raw_key: `mc_v1_${uniq()}`, name: "t", actor_id: who }]), 409, "FAILED_PRECONDITION", "FAILED_PRECONDITION", TALOS_FORMAT, 2);
      expectError(await batch(q, [g(), g(), { raw_key: `mc_v1_${uniq()}`, name: "t", actor_id: who }]), 429, "RESOURCE_EXHAUSTED", "API_KEY_QUOTA_EXCEEDED", "API key quota exceeded", 3);
      // room for one: the first item is attempted and fails in storage, the second is over quota
      await setLive(QUOTA - 1);
      const restore = failInserts(q);
      let res: TestResponse;
      try {
        res = await batch(q, [g(), g()]);
      } finally {
        restore();
      }
      expectError(res, 429, "RESOURCE_EXHAUSTED", "API_KEY_QUOTA_EXCEEDED", "API key quota exceeded", 2);
      expect(await listAll(q, `actor_id="${who}"`)).toEqual([]);
    });
  });
});
