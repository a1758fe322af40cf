/**
 * /metrics on the metrics listener of a real `talos serve` process (docs/server.md#health-version-metrics-and-logs): after a scripted
 * sequence of requests the counters say exactly what happened, route labels are templates (never
 * raw paths with key ids), and http_requests_in_flight follows a request that is still running.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchJson, startTalos, stopAllTalos, type TalosProcess } from "../support/process.js";

afterAll(stopAllTalos);

const A = "/v2alpha1/admin";

/** Prometheus text → Map of `name{labels}` (labels sorted) → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = m[3] ? [...m[3].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => `${x[1]}="${x[2]}"`).sort().join(",") : "";
    out.set(labels ? `${m[1]}{${labels}}` : m[1]!, Number(m[4]));
  }
  return out;
}

/** `name{a="1",b="2"}` with the labels sorted, as parseMetrics keys them. */
const key = (name: string, labels: Record<string, string> = {}) => {
  const l = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(",");
  return l ? `${name}{${l}}` : name;
};

describe("metrics of a real talos serve process", () => {
  let t: TalosProcess;
  beforeAll(async () => {
    t = await startTalos({
      args: ["serve"],
      env: { TALOS_DB_DSN: "memory", TALOS_SECRETS_HMAC_CURRENT: "e2e-metrics-hmac-secret-0123456789abcdef", TALOS_CREDENTIALS_ISSUER: "https://metrics.e2e" },
    });
  }, 120_000);
  afterAll(async () => {
    if (t) expect(await t.stop()).toBe(0);
  }, 60_000);

  const scrape = async () => {
    const res = await fetch(`${t.metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    return { text, m: parseMetrics(text) };
  };
  const api = (path: string, body?: unknown, headers?: Record<string, string>) => fetchJson(`${t.apiUrl}${path}`, { body, headers });

  it("counts keys, verifications, cache outcomes, revocations and requests by route template", async () => {
    // keys: 2 issued, 1 imported, 2 batch-imported, 1 rotation
    const a = await api(`${A}/issuedApiKeys`, { name: "m", actor_id: "metrics-a" });
    const b = await api(`${A}/issuedApiKeys`, { name: "m", actor_id: "metrics-b" });
    expect([a.status, b.status]).toEqual([201, 201]);
    const aId = a.body.issued_api_key.key_id as string;
    const bId = b.body.issued_api_key.key_id as string;
    const imp = await api(`${A}/importedApiKeys`, { raw_key: "metrics-raw-key-1", name: "m", actor_id: "metrics-imp" });
    expect(imp.status).toBe(201);
    const batch = await api(`${A}/importedApiKeys:batchCreate`, {
      requests: [
        { raw_key: "metrics-raw-key-2", name: "m", actor_id: "metrics-batch" },
        { raw_key: "metrics-raw-key-3", name: "m", actor_id: "metrics-batch" },
      ],
    });
    expect(batch.status, batch.text).toBe(200);
    const rot = await api(`${A}/issuedApiKeys/${aId}:rotate`, {});
    expect(rot.status, rot.text).toBe(201);

    // verifications: b valid twice (MISS then HIT), the rotated-away key (revoked, no-cache = SKIP),
    // the imported key once (MISS), and a credential that is no issued key, so it is looked up as
    // an imported one (MISS, not found; "not found" is never cached)
    expect((await api(`${A}/apiKeys:verify`, { credential: b.body.secret })).headers.get("ory-talos-cache")).toBe("MISS");
    expect((await api(`${A}/apiKeys:verify`, { credential: b.body.secret })).headers.get("ory-talos-cache")).toBe("HIT");
    const old = await api(`${A}/apiKeys:verify`, { credential: a.body.secret }, { "Cache-Control": "no-cache" });
    expect(old.body.error_code).toBe("VERIFICATION_ERROR_REVOKED");
    expect((await api(`${A}/apiKeys:verify`, { credential: "metrics-raw-key-1" })).body.is_valid).toBe(true);
    expect((await api(`${A}/apiKeys:verify`, { credential: "ory_ak_v1_garbage" })).body.is_valid).toBe(false);

    // revocations: b by an admin (key_compromise), the imported key by its holder (unspecified)
    expect((await api(`${A}/apiKeys/${bId}:revoke`, { reason: "REVOCATION_REASON_KEY_COMPROMISE" })).status).toBe(204);
    expect((await api("/v2alpha1/apiKeys:selfRevoke", { credential: "metrics-raw-key-1" })).status).toBe(200);
    // a delete, a get by id, an unknown path holding a key id
    const delId = batch.body.results[0].imported_api_key.key_id as string;
    expect((await fetchJson(`${t.apiUrl}${A}/importedApiKeys/${delId}`, { method: "DELETE" })).status).toBe(204);
    expect((await fetchJson(`${t.apiUrl}${A}/issuedApiKeys/${aId}`)).status).toBe(200);
    expect((await fetchJson(`${t.apiUrl}${A}/issuedApiKeys/${aId}/nope`)).status).toBe(404);

    const { text, m } = await scrape();
    const val = (name: string, labels: Record<string, string> = {}) => m.get(key(name, labels));

    expect(val("talos_api_keys_created_total", { kind: "issued", operation: "issue" })).toBe(2);
    expect(val("talos_api_keys_created_total", { kind: "imported", operation: "import" })).toBe(1);
    expect(val("talos_api_keys_created_total", { kind: "imported", operation: "batch_import" })).toBe(2);
    expect(val("talos_api_keys_created_total", { kind: "issued", operation: "rotation" })).toBe(1);

    expect(val("talos_verifications_total", { credential_type: "issued", result: "valid" })).toBe(2);
    expect(val("talos_verifications_total", { credential_type: "issued", result: "revoked" })).toBe(1);
    expect(val("talos_verifications_total", { credential_type: "imported", result: "valid" })).toBe(1);
    expect(val("talos_verifications_total", { credential_type: "imported", result: "not_found" })).toBe(1);
    const all = [...m].filter(([k]) => k.startsWith("talos_verifications_total{"));
    expect(all.reduce((n, [, v]) => n + v, 0), JSON.stringify(all)).toBe(5);

    expect(val("talos_verification_cache_total", { result: "hit" })).toBe(1);
    expect(val("talos_verification_cache_total", { result: "miss" })).toBe(3);
    expect(val("talos_verification_cache_total", { result: "skip" })).toBe(1);

    expect(val("talos_api_keys_revoked_total", { kind: "issued", reason: "superseded" })).toBe(1);
    expect(val("talos_api_keys_revoked_total", { kind: "issued", reason: "key_compromise" })).toBe(1);
    expect(val("talos_api_keys_revoked_total", { kind: "imported", reason: "unspecified" })).toBe(1);
    expect(val("talos_api_keys_deleted_total")).toBe(1);

    expect(val("http_requests_total", { method: "POST", route: `${A}/issuedApiKeys`, status: "201" })).toBe(2);
    expect(val("http_requests_total", { method: "POST", route: `${A}/issuedApiKeys/{key_id}:rotate`, status: "201" })).toBe(1);
    expect(val("http_requests_total", { method: "POST", route: `${A}/apiKeys:verify`, status: "200" })).toBe(5);
    expect(val("http_requests_total", { method: "POST", route: `${A}/apiKeys/{key_id}:revoke`, status: "204" })).toBe(1);
    expect(val("http_requests_total", { method: "POST", route: "/v2alpha1/apiKeys:selfRevoke", status: "200" })).toBe(1);
    expect(val("http_requests_total", { method: "DELETE", route: `${A}/importedApiKeys/{key_id}`, status: "204" })).toBe(1);
    expect(val("http_requests_total", { method: "GET", route: `${A}/issuedApiKeys/{key_id}`, status: "200" })).toBe(1);
    expect(val("http_requests_total", { method: "GET", route: "unmatched", status: "404" })).toBe(1);
    expect(m.has(key("http_request_duration_seconds_count", { method: "POST", route: `${A}/apiKeys:verify` }))).toBe(true);
    expect(m.has(key("http_request_size_bytes_count", { method: "POST", route: `${A}/issuedApiKeys` }))).toBe(true);
    expect(m.has(key("http_response_size_bytes_count", { method: "POST", route: `${A}/issuedApiKeys` }))).toBe(true);

    // route labels are templates: no key id, raw key or secret anywhere in the exposition
    for (const id of [aId, bId, delId, rot.body.issued_api_key?.key_id].filter(Boolean)) expect(text).not.toContain(id);
    for (const s of [a.body.secret, b.body.secret, "metrics-raw-key-1", "metrics-raw-key-2"]) expect(text).not.toContain(s);
    // database pool gauges (embedded database: one connection), nothing in flight between requests
    expect(val("talos_db_pool_max_connections")).toBe(1);
    expect(val("talos_db_in_flight")).toBe(0);
    expect(val("talos_db_errors")).toBe(0);
    // Node.js process metrics from the default collector
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
  });

  it("http_requests_in_flight counts a request that is still being served, and drops back to 0", async () => {
    expect((await scrape()).m.get("http_requests_in_flight")).toBe(0);
    const body = JSON.stringify({ credential: "ory_ak_v1_in_flight" });
    const sock = net.connect(t.apiPort, "127.0.0.1");
    await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
    let answer = "";
    sock.on("data", (d: Buffer) => (answer += d.toString("latin1")));
    // headers and half of the body: the handler is waiting for the rest
    sock.write(`POST ${A}/apiKeys:verify HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    sock.write(body.slice(0, 10));
    let during = 0;
    for (let i = 0; i < 50 && during === 0; i++) {
      during = (await scrape()).m.get("http_requests_in_flight") ?? 0;
      if (during === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(during).toBe(1);
    const ended = new Promise<void>((resolve) => sock.once("close", () => resolve()));
    sock.end(body.slice(10));
    await ended;
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect((await scrape()).m.get("http_requests_in_flight")).toBe(0);
  });
});
