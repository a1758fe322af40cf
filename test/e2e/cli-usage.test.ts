/**
 * `talos keys usage <key-id>` (docs/observability.md#usage-history) against a real `talos serve`:
 * the table, the machine formats, and the sparkline a terminal gets.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageTable } from "../../packages/cli/src/commands/keys/usage.js";
import { E2E_TIMEOUT_MS, fetchJson, runTalos, startTalos, stopAllTalos, type TalosProcess } from "../support/process.js";

afterAll(stopAllTalos);

let server: TalosProcess;
beforeAll(async () => {
  server = await startTalos({
    args: ["serve"],
    env: {
      TALOS_DB_DSN: "memory",
      TALOS_SECRETS_HMAC_CURRENT: `cli-usage-hmac-secret-${randomUUID()}`,
      TALOS_CREDENTIALS_ISSUER: "https://t.test",
      // usage counts reach the database with the last-used flush
      TALOS_LAST_USED_FLUSH_INTERVAL: "200ms",
    },
  });
}, 90_000);

describe("talos keys usage", { timeout: E2E_TIMEOUT_MS }, () => {
  it("prints the hourly series as a table (no sparkline off a terminal), json on request, and a clear error for unknown keys", async () => {
    const issued = await fetchJson(`${server.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { name: "u", actor_id: `usage-${randomUUID()}` } });
    expect(issued.status).toBe(201);
    const { key_id: id } = issued.body.issued_api_key;
    for (let i = 0; i < 3; i++) {
      const v = await fetchJson(`${server.apiUrl}/v2alpha1/admin/apiKeys:verify`, { body: { credential: issued.body.secret } });
      expect(v.body.is_valid).toBe(true);
    }
    // wait for a flush: the series shows the three once they are in the database
    let json: any;
    for (let i = 0; i < 50; i++) {
      const r = await runTalos(["keys", "usage", id, "--format", "json", "-e", server.apiUrl]);
      expect(r.code, r.stderr).toBe(0);
      json = JSON.parse(r.stdout);
      if (json.buckets.at(-1).total === "3") break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(json).toMatchObject({ key_id: id, granularity: "hour" });
    expect(json.buckets).toHaveLength(24);
    expect(json.buckets.at(-1)).toMatchObject({ valid: "3", total: "3" });

    const table = await runTalos(["keys", "usage", id, "-e", server.apiUrl]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^START\s+VALID\s+NOT_FOUND\s+REVOKED\s+EXPIRED\s+IP_DENIED\s+RATE_LIMITED\s+TOTAL$/);
    expect(lines).toHaveLength(25);
    expect(lines.at(-1)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:00:00Z\s+3\s+0\s+0\s+0\s+0\s+0\s+3$/);
    expect(table.stdout).not.toMatch(/[▁▂▃▄▅▆▇█]/);

    const days = await runTalos(["keys", "usage", id, "--granularity", "day", "--format", "json", "-e", server.apiUrl]);
    expect(JSON.parse(days.stdout).buckets).toHaveLength(30);

    const unknown = await runTalos(["keys", "usage", randomUUID(), "-e", server.apiUrl]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: .*not found/im);
    const bad = await runTalos(["keys", "usage", id, "--granularity", "week", "-e", server.apiUrl]);
    expect(bad.code).toBe(2);
  });

  it("on a terminal, a sparkline of the totals heads the table", async () => {
    const buckets = [0, 2, 5, 1].map((n, i) => ({ start_time: `2026-01-01T0${i}:00:00Z`, valid: String(n), total: String(n) }));
    const { default: sparkly } = await import("sparkly");
    const out = usageTable({ key_id: "k1", granularity: "hour", start_time: "", end_time: "", buckets }, sparkly);
    const [head, blank, header] = out.split("\n");
    expect(head).toBe(`k1  hourly  ${sparkly([0, 2, 5, 1], { minimum: 0 })}  8 total`);
    expect(head).toMatch(/[▁▂▃▄▅▆▇█]{4}/);
    expect(blank).toBe("");
    expect(header).toMatch(/^START/);
  });
});
