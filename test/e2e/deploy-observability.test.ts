/**
 * deploy/: the Grafana dashboard and the Prometheus alert rules reference only series a running
 * server exports (scraped from its real metrics listener), the rules pass `promtool check rules`,
 * and the compose profile wires both to the files (docs/observability.md#dashboards-and-alerts).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Listening } from "@talos/server";
import { startTestServer, type TestServer } from "../support/harness.js";
import { ISSUED, VERIFY, issue, verify } from "../support/http-expect.js";
import { REPO_ROOT } from "../support/process.js";

const read = (f: string) => readFileSync(path.join(REPO_ROOT, f), "utf8");
const RULES = "deploy/prometheus/alerts.yml";
const DASHBOARD = "deploy/grafana/dashboards/talos.json";

/** Recorded by Prometheus per scrape target, not exported by any process. */
const PROMETHEUS_SERIES = new Set(["up"]);
/** Labels Prometheus attaches to every scraped series. */
const TARGET_LABELS = new Set(["job", "instance"]);
/** Grafana's reference to the dashboard's data-source variable */
const DATASOURCE_VARIABLE = "$" + "{datasource}";
const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "le"]);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parse(read(RULES)) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

interface Panel {
  type: string;
  id: number;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: { expr: string; refId: string }[];
}
const dashboard = JSON.parse(read(DASHBOARD)) as { uid: string; panels: Panel[]; templating: { list: { name: string; definition?: string }[] } };

const expressions: { where: string; expr: string }[] = [
  ...rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })),
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
  ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ where: `variable ${v.name}`, expr: v.definition!.replace(/^label_values\((.*),\s*\w+\)$/, "$1") })),
];

/** Metric names and the label names matched on each, from a PromQL expression. */
function references(expr: string): { metric: string; labels: string[] }[] {
  const out: { metric: string; labels: string[] }[] = [];
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, format args)
    .replace(/\[[^\]]*\]/g, "") // range selectors, [$__rate_interval]
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const re = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const [, name, matchers, call] = m;
    if (call || PROMQL_WORDS.has(name!) || /^\d/.test(name!)) continue;
    if (/^(e|inf|nan)$/i.test(name!)) continue;
    const labels = matchers ? [...matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((l) => l[1]!) : [];
    out.push({ metric: name!, labels });
  }
  return out;
}

describe("deploy/: dashboard and alert rules", () => {
  let s: TestServer;
  let metricsPort: Listening;
  /** family name -> label names seen on its samples */
  const exported = new Map<string, Set<string>>();

  beforeAll(async () => {
    s = await startTestServer({ overrides: { "serve.metrics.host": "127.0.0.1" } });
    metricsPort = (await s.built.metricsListener({ host: "127.0.0.1", port: 0 }))!;
    // traffic, so the labelled series have samples: issue, verify (valid, not found), a rate limit, a revocation
    const k = await issue(s, { rate_limit_policy: { quota: "1", window: "60s" } });
    await verify(s, k.secret);
    await verify(s, k.secret);
    await s.request("POST", VERIFY, { credential: "ory_ak_nope" });
    expect((await s.request("POST", `${ISSUED}/${k.key.key_id}:revoke`, {})).status).toBe(204); // a cache invalidation
    const res = await fetch(`http://127.0.0.1:${metricsPort.port}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const typeOf = new Map<string, string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      typeOf.set(m[1]!, m[2]!);
      exported.set(m[1]!, new Set());
    }
    for (const line of text.split("\n")) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
      if (!m) continue;
      let family = m[1]!;
      if (!exported.has(family)) family = family.replace(/_(bucket|sum|count)$/, "");
      const labels = exported.get(family);
      if (!labels) continue;
      for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1]!);
    }
    // histograms are queried through their _bucket, _sum and _count series
    for (const [name, type] of typeOf) {
      if (type !== "histogram") continue;
      for (const suffix of ["_bucket", "_sum", "_count"]) exported.set(`${name}${suffix}`, new Set([...exported.get(name)!, ...(suffix === "_bucket" ? ["le"] : [])]));
    }
  });
  afterAll(async () => {
    await s?.close();
  });

  it("the files reference something: 10 alert rules, a dashboard of panels with queries", () => {
    expect(rules.map((r) => r.alert)).toEqual([
      "TalosDown",
      "TalosNotReady",
      "TalosHighErrorRatio",
      "TalosVerificationInternalErrors",
      "TalosVerifyLatencyHigh",
      "TalosDatabasePoolSaturated",
      "TalosDatabaseErrors",
      "TalosCacheInvalidationErrors",
      "TalosRateLimiterErrors",
      "TalosUsageCountsLost",
    ]);
    expect(expressions.length).toBeGreaterThan(30);
    expect(references('sum by (le) (rate(http_request_duration_seconds_bucket{route="/x", job=~"$job"}[5m])) / 2')).toEqual([
      { metric: "http_request_duration_seconds_bucket", labels: ["route", "job"] },
    ]);
  });

  it("every series the dashboard and the rules query is exported by the running server, with the labels they match on", () => {
    const problems: string[] = [];
    for (const { where, expr } of expressions) {
      const refs = references(expr);
      if (refs.length === 0) problems.push(`${where}: no metric found in ${expr}`);
      for (const { metric, labels } of refs) {
        if (PROMETHEUS_SERIES.has(metric)) continue;
        const have = exported.get(metric);
        if (!have) {
          problems.push(`${where}: ${metric} is not exported`);
          continue;
        }
        for (const l of labels) {
          if (!TARGET_LABELS.has(l) && have.size > 0 && !have.has(l)) problems.push(`${where}: ${metric} has no label ${l} (has ${[...have].join(", ")})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("talos_ready reads 1 on a ready server", async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort.port}/metrics`)).text();
    expect(text).toMatch(/^talos_ready 1$/m);
  });

  it("alert rules pass promtool check rules and their unit tests (or, without Prometheus's tools, the rule file schema)", () => {
    for (const r of rules) {
      expect(typeof r.alert, "every rule is an alert").toBe("string");
      expect(r.expr.trim()).not.toBe("");
      expect(r.for ?? "0s").toMatch(/^\d+[smh]$/);
      expect(["critical", "warning"]).toContain(r.labels?.severity);
      expect(r.annotations?.summary).toBeTruthy();
    }
    const promtool = spawnSync("promtool", ["check", "rules", path.join(REPO_ROOT, RULES)], { encoding: "utf8" });
    if (promtool.error) {
      console.warn("\n!!! SKIPPED: promtool check rules — promtool is not installed (apt-get install prometheus); the schema check above ran instead.\n");
      return;
    }
    expect(promtool.status, promtool.stdout + promtool.stderr).toBe(0);
    expect(promtool.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
    // the rules' unit tests: series in, the expected alerts (labels and rendered annotations) out
    const unit = spawnSync("promtool", ["test", "rules", path.join(REPO_ROOT, "deploy/prometheus/alerts.test.yml")], { encoding: "utf8" });
    expect(unit.status, unit.stdout + unit.stderr).toBe(0);
    expect(unit.stdout).toContain("SUCCESS");
  });

  it("the dashboard is well-formed: unique panel ids, every query on the datasource variable, panels within 24 columns", () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type !== "row") expect(p.datasource?.uid, p.title).toBe(DATASOURCE_VARIABLE);
    }
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ["Verifications by outcome", "Verify latency percentiles", "Cache hit ratio", "Rate-limited share", "DB pool in use", "Requests / s per process"]) expect(titles).toContain(t);
  });

  it("the compose profile mounts these files and Prometheus scrapes the metrics port of admin and public", () => {
    const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, { volumes?: string[]; profiles?: string[] }> };
    const prom = compose.services.prometheus!;
    expect(prom.volumes).toContain(`./${RULES}:/etc/prometheus/alerts.yml:ro`);
    const config = parse(read("deploy/prometheus/prometheus.yml")) as { rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    expect(config.rule_files).toEqual(["/etc/prometheus/alerts.yml"]);
    const job = config.scrape_configs.find((c) => c.job_name === "talos")!;
    expect(job.static_configs.flatMap((c) => c.targets)).toEqual(["admin:4422", "public:4422"]);
    expect(compose.services.admin).toBeDefined();
    expect(compose.services.public).toBeDefined();
    // the alert's job selector matches the scrape job
    expect(rules.find((r) => r.alert === "TalosDown")!.expr).toContain('job="talos"');
    expect(compose.services.grafana!.volumes).toContain("./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro");
  });
});
