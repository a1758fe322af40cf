/**
 * docker-compose.yml, Dockerfile and .dockerignore, checked statically (no Docker engine on the CI
 * machines): every talos command is a real CLI command, dependencies and health checks are
 * consistent, the admin API is published on loopback only, and no secret is written down.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN_HASH, CONFIG_KEYS, envKeyFor, hashAdminToken, loadConfig } from "@talos/core";
import { REPO_ROOT, runTalos, stopAllTalos } from "../support/process.js";

afterAll(stopAllTalos);

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: unknown;
  environment?: Record<string, string | number | boolean | null>;
  ports?: (string | { published?: string | number; host_ip?: string; target?: number })[];
  expose?: (string | number)[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
  volumes?: string[];
  profiles?: string[];
}

const read = (f: string) => readFileSync(path.join(REPO_ROOT, f), "utf8");
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const dockerfile = read("Dockerfile");
const TALOS_IMAGE = "talos-ts:local";
const isTalos = (s: Service) => s.image === TALOS_IMAGE || s.build !== undefined;
const talosServices = Object.entries(services).filter(([, s]) => isTalos(s));
const deps = (s: Service): [string, string][] =>
  Array.isArray(s.depends_on) ? s.depends_on.map((d) => [d, "service_started"]) : Object.entries(s.depends_on ?? {}).map(([d, v]) => [d, v.condition ?? "service_started"]);
const healthTest = (s: Service) => (Array.isArray(s.healthcheck?.test) ? s.healthcheck!.test.join(" ") : (s.healthcheck?.test ?? ""));
/** a port entry's published host address ("" = every interface) and ports */
function published(p: NonNullable<Service["ports"]>[number]): { host: string; hostPort: string; target: string } {
  if (typeof p === "object") return { host: p.host_ip ?? "", hostPort: String(p.published ?? ""), target: String(p.target ?? "") };
  const parts = p.split(":");
  if (parts.length === 3) return { host: parts[0]!, hostPort: parts[1]!, target: parts[2]! };
  if (parts.length === 2) return { host: "", hostPort: parts[0]!, target: parts[1]! };
  return { host: "", hostPort: "", target: parts[0]! };
}

describe("docker-compose.yml", () => {
  it("has the split topology: postgres, a one-shot migrate, admin, public and nginx", () => {
    // Prometheus and Grafana start only with `--profile observability` (docs/observability.md#dashboards-and-alerts)
    const byDefault = Object.entries(services).filter(([, s]) => s.profiles === undefined);
    expect(byDefault.map(([n]) => n).sort()).toEqual(["admin", "migrate", "nginx", "postgres", "proxy", "public"]);
    const optional = Object.entries(services).filter(([, s]) => s.profiles !== undefined);
    expect(optional.map(([n, s]) => [n, s.profiles])).toEqual([
      // `--profile secured`: the admin API with static-token authentication (README.md#protecting-the-admin-api)
      ["talos-secured", ["secured"]],
      ["prometheus", ["observability"]],
      ["grafana", ["observability"]],
    ]);
    expect(talosServices.map(([n]) => n).sort()).toEqual(["admin", "migrate", "proxy", "public", "talos-secured"]);
    for (const [name, s] of talosServices) {
      expect(s.image, name).toBe(TALOS_IMAGE);
      expect(s.build, name).toBe(".");
      expect(s.entrypoint, `${name} keeps the image's entry point`).toBeUndefined();
      expect(Array.isArray(s.command), `${name}: exec-form command`).toBe(true);
    }
    expect(services.migrate!.command).toEqual(["migrate", "up"]);
    expect(services.admin!.command).toEqual(["serve", "admin"]);
    expect(services.public!.command).toEqual(["serve", "public"]);
    expect(services.proxy!.command).toEqual(["proxy"]);
    expect(services["talos-secured"]!.command).toEqual(["serve", "admin"]);
  });

  it.each(talosServices.map(([n, s]) => [n, (s.command as string[]).join(" "), s.command as string[]] as const))(
    "%s: `talos %s` is a real CLI command",
    async (_name, _line, command) => {
    const r = await runTalos([...command, "--help"], {});
    expect(r.code, r.stderr).toBe(0);
    // an unknown command would print the top-level help (and exit 0 too): the usage line must name it
    const sub = command.filter((a) => !["all", "admin", "public"].includes(a)).join(" ");
    expect(r.stdout).toMatch(new RegExp(`^Usage: talos ${sub} `, "m"));
    if (command[0] === "serve") expect(["all", "admin", "public"]).toContain(command[1]);
    },
    60_000,
  );

  it("depends_on targets exist, conditions are valid and backed by a health check or a one-shot", () => {
    const valid = new Set(["service_started", "service_healthy", "service_completed_successfully"]);
    for (const [name, s] of Object.entries(services)) {
      for (const [target, condition] of deps(s)) {
        expect(services[target], `${name} depends on unknown ${target}`).toBeDefined();
        expect(valid.has(condition), `${name} → ${target}: ${condition}`).toBe(true);
        const t = services[target]!;
        if (condition === "service_healthy") {
          expect(t.healthcheck?.disable, `${target} must have a health check`).not.toBe(true);
          expect(healthTest(t) !== "" || (isTalos(t) && /^HEALTHCHECK /m.test(dockerfile)), `${target} health check`).toBe(true);
        }
        if (condition === "service_completed_successfully") {
          expect(t.restart, `${target} must be a one-shot`).toBe("no");
          expect((t.command as string[])[0]).not.toBe("serve");
        }
      }
    }
    expect(deps(services.migrate!)).toEqual([["postgres", "service_healthy"]]);
    expect(deps(services.admin!)).toEqual([["migrate", "service_completed_successfully"]]);
    expect(deps(services.public!)).toEqual([["migrate", "service_completed_successfully"]]);
    expect(deps(services.nginx!)).toEqual([["public", "service_healthy"]]);
    expect(deps(services.proxy!)).toEqual([["admin", "service_healthy"]]);
    expect(deps(services["talos-secured"]!)).toEqual([["migrate", "service_completed_successfully"]]);
    // acyclic
    const visiting = new Set<string>();
    const visit = (n: string, trail: string[]) => {
      expect(visiting.has(n), `cycle: ${[...trail, n].join(" → ")}`).toBe(false);
      visiting.add(n);
      for (const [d] of deps(services[n]!)) visit(d, [...trail, n]);
      visiting.delete(n);
    };
    for (const n of Object.keys(services)) visit(n, []);
  });

  it("health checks hit /health/ready on the metrics port (4422) and nginx on its own listener", () => {
    for (const name of ["admin", "public", "talos-secured"]) {
      const s = services[name]!;
      expect(healthTest(s), name).toContain("http://127.0.0.1:4422/health/ready");
      expect(s.environment?.TALOS_SERVE_METRICS_PORT, `${name} keeps the default metrics port`).toBeUndefined();
    }
    expect(healthTest(services.postgres!)).toContain("pg_isready");
    expect(healthTest(services.nginx!)).toContain(`http://127.0.0.1:${services.nginx!.environment!.TALOS_EDGE_LISTEN}/health/alive`);
    expect(services.migrate!.healthcheck?.disable).toBe(true);
  });

  it("only nginx is published to the world; the admin API on 127.0.0.1 only; metrics never", () => {
    const adminPorts = (services.admin!.ports ?? []).map(published);
    expect(adminPorts.length).toBeGreaterThan(0);
    for (const p of adminPorts) expect(p.host, "admin must bind loopback only").toBe("127.0.0.1");
    // the secured admin API too (authentication is no reason to publish it), on other host ports
    const securedPorts = (services["talos-secured"]!.ports ?? []).map(published);
    expect(securedPorts.length).toBeGreaterThan(0);
    for (const p of securedPorts) {
      expect(p.host, "talos-secured must bind loopback only").toBe("127.0.0.1");
      expect(adminPorts.map((a) => a.hostPort)).not.toContain(p.hostPort);
    }
    expect(services.public!.ports ?? []).toEqual([]);
    expect(services.postgres!.ports ?? []).toEqual([]);
    expect(services.migrate!.ports ?? []).toEqual([]);
    for (const [name, s] of Object.entries(services)) {
      for (const p of (s.ports ?? []).map(published)) {
        expect(p.target === "4422" && p.host !== "127.0.0.1", `${name} publishes the metrics port`).toBe(false);
      }
    }
    const edge = (services.nginx!.ports ?? []).map(published);
    expect(edge.map((p) => p.target)).toEqual([String(services.nginx!.environment!.TALOS_EDGE_LISTEN)]);
  });

  it("writes no secret down: passwords, the HMAC secret and the DSN's password are required variables", () => {
    const required = /^\$\{[A-Z0-9_]+:\?[^}]*\}$/;
    for (const [name, s] of Object.entries(services)) {
      for (const [k, raw] of Object.entries(s.environment ?? {})) {
        const v = String(raw ?? "");
        if (/PASSWORD|SECRET|HMAC/.test(k)) expect(v, `${name}.${k}`).toMatch(required);
        // serve.admin_auth.tokens holds hashes only (a JSON list, which no ${VAR:-…} default can carry): checked below
        if (/SIGNING_KEYS|TOKEN/.test(k) && k !== "TALOS_SERVE_ADMIN_AUTH_TOKENS") expect(v, `${name}.${k}`).toMatch(/^\$\{[A-Z0-9_]+:[-?][^}]*\}$/);
        if (k === "TALOS_SERVE_ADMIN_AUTH_TOKENS") {
          const entries = JSON.parse(v) as Record<string, unknown>[];
          expect(entries.length, `${name}.${k}`).toBeGreaterThan(0);
          for (const e of entries) {
            expect(Object.keys(e).sort(), `${name}.${k}`).toEqual(["hash", "name", "permissions"]);
            expect(e.hash, `${name}.${k}`).toMatch(ADMIN_TOKEN_HASH);
          }
        }
        if (/DSN/.test(k)) {
          const m = /^postgres(?:ql)?:\/\/([^:@/]+):(\$\{[^}]+\})@/.exec(v);
          expect(m, `${name}.${k}: the password must be an interpolation`).not.toBeNull();
          expect(m![2]).toMatch(required);
        }
      }
    }
    // and nothing that looks like a credential anywhere in the file
    const text = read("docker-compose.yml");
    expect(text).not.toMatch(/ory_ak_v1_/);
    expect(text).not.toMatch(/talos_at_/);
    expect(text).not.toMatch(/postgres(ql)?:\/\/[^:\s]+:[^$\s@]+@/);
  });

  it("the secured profile's environment loads through the config loader: admin auth on, with the README's demo token", () => {
    // compose's interpolation, with stand-ins for the required variables
    const standIns: Record<string, string> = { POSTGRES_PASSWORD: "pw", TALOS_SECRETS_HMAC_CURRENT: "x".repeat(40), TALOS_CREDENTIALS_ISSUER: "https://keys.example.com" };
    const interpolate = (v: string) =>
      v.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, rest?: string) => standIns[name] ?? (op === "-" ? (rest ?? "") : ""));
    const raw = services["talos-secured"]!.environment ?? {};
    const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v ?? ""))]));
    // loadConfig ignores unknown TALOS_* names: a misspelt one must fail here instead
    const known = new Set(CONFIG_KEYS.map((k) => envKeyFor(k.path)));
    for (const k of Object.keys(env)) expect(known.has(k), `${k} is not a configuration key`).toBe(true);
    const { config } = loadConfig({ env });
    expect(config.serve.admin_auth.mode).toEqual(["tokens"]);
    expect(config.serve.admin_auth.tokens.map((t) => [t.name, t.permissions])).toEqual([["demo", ["admin"]]]);
    // the chapter prints the demo token; only its hash is in the compose file
    const readme = read("README.md");
    const chapter = readme.slice(readme.indexOf("## Protecting the admin API"), readme.indexOf("\n## ", readme.indexOf("## Protecting the admin API") + 1));
    expect(chapter).toContain("--profile secured");
    const demo = /talos_at_DEMO[\w-]+/.exec(chapter)?.[0];
    expect(demo, "the README chapter names the demo token").toBeDefined();
    expect(config.serve.admin_auth.tokens[0]!.hash).toBe(hashAdminToken(demo!));
    expect(chapter).toContain("127.0.0.1:4520");
  });

  it("nginx runs the repository's edge config with every placeholder set and the upstream pointing at public", () => {
    const nginx = services.nginx!;
    const mount = (nginx.volumes ?? []).find((v) => v.includes("nginx/public-edge.conf"));
    expect(mount).toBe("./nginx/public-edge.conf:/etc/nginx/templates/default.conf.template:ro");
    expect(existsSync(path.join(REPO_ROOT, "nginx/public-edge.conf"))).toBe(true);
    const placeholders = new Set([...read("nginx/public-edge.conf").matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!));
    for (const p of placeholders) expect(nginx.environment?.[p], `nginx environment ${p}`).toBeDefined();
    const [host, port] = String(nginx.environment!.TALOS_PUBLIC_UPSTREAM).split(":");
    expect(host).toBe("public");
    expect((services.public!.expose ?? []).map(String)).toContain(port);
    expect(services.public!.environment?.TALOS_SERVE_HTTP_CLIENT_IP_SOURCE).toBe("CLIENT_IP_SOURCE_X_FORWARDED_FOR");
  });
});

describe("Dockerfile and .dockerignore", () => {
  it("compiles in a build stage and runs compiled JavaScript with production dependencies as a non-root user", () => {
    const stages = [...dockerfile.matchAll(/^FROM\s+\S+(?:\s+AS\s+(\S+))?/gim)].map((m) => m[1]);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev/m);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(runtime).not.toMatch(/COPY\s+(--from=build\s+)?\/?app\/(packages|apps)\/[a-z]+\/src/);
    expect(runtime).not.toMatch(/^COPY (packages|apps) /m);
    expect(runtime).toMatch(/^USER (?!root\b|0\b)\S+/m);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "packages\/cli\/dist\/main\.js"\]$/m);
    expect(runtime).toMatch(/^HEALTHCHECK [\s\S]*\/health\/ready/m);
    expect(runtime).toMatch(/^COPY drizzle drizzle$/m);
    expect(runtime).not.toMatch(/tsx/);
    // every workspace's compiled output is in the image
    for (const ws of ["packages/core", "packages/http", "packages/server", "packages/proxy", "packages/cli", "apps/admin", "apps/public"]) {
      expect(runtime).toContain(`COPY --from=build /app/${ws}/dist ${ws}/dist`);
    }
  });

  it(".dockerignore keeps dependencies, build output, local state and secrets out of the context", () => {
    const lines = read(".dockerignore").split("\n").map((l) => l.trim());
    for (const p of ["**/node_modules", "**/dist", ".talos", ".env", ".git"]) expect(lines, p).toContain(p);
  });
});
