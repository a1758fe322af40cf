import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CONFIG_KEYS, ConfigError, envKeyFor, loadConfig } from "./index.js";
import type { Config, LoadConfigOptions } from "./index.js";

const SECRET = "current-secret-0123456789abcdef-XYZ"; // 35 chars
const OLD_SECRET = "retired-secret-0123456789abcdef-XYZ";
const REQUIRED_ENV = {
  TALOS_SECRETS_HMAC_CURRENT: SECRET,
  TALOS_CREDENTIALS_ISSUER: "https://api.example.com",
  TALOS_DB_DSN: "memory",
};

const H = 3_600_000;

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "talos-config-"));
  tempDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function writeTemp(name: string, text: string): string {
  const file = join(tempDir(), name);
  writeFileSync(file, text);
  return file;
}

/** Loads with the required keys supplied by env (unless the test overrides them). */
function load(opts: Partial<LoadConfigOptions> = {}): Config {
  return loadConfig({ ...opts, env: { ...REQUIRED_ENV, ...opts.env } }).config;
}

function issuesOf(opts: LoadConfigOptions): string[] {
  try {
    loadConfig(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

/** Issues when `file` (YAML) is loaded on top of the required env. */
function fileIssues(yaml: string, env: Record<string, string> = {}): string[] {
  return issuesOf({ file: writeTemp("talos.yaml", yaml), env: { ...REQUIRED_ENV, ...env } });
}

const DEFAULTS: Config = {
  serve: {
    http: {
      host: "0.0.0.0",
      port: 4420,
      trust_forwarded_host: false,
      client_ip_source: "CLIENT_IP_SOURCE_UNSPECIFIED",
      request_log: { exclude_health_endpoints: false },
      cors: {
        enabled: false,
        allowed_origins: ["*"],
        allowed_methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        allowed_headers: ["Authorization", "Content-Type"],
        exposed_headers: ["Content-Type"],
        allow_credentials: false,
        max_age: 0,
      },
      tls: { cert_path: "", key_path: "", client_ca_path: "" },
    },
    metrics: { enabled: true, host: "0.0.0.0", port: 4422, tls: { cert_path: "", key_path: "" } },
    admin_auth: {
      mode: ["none"],
      tokens: [],
      jwt: {
        jwks_url: "",
        jwks_file: "",
        issuer: "",
        audience: "",
        algorithms: ["RS256", "PS256", "ES256", "EdDSA"],
        clock_skew: 30_000,
        permissions_claim: "scope",
        name_claim: "sub",
        jwks_cache_ttl: 10 * 60_000,
        jwks_refresh_interval: 30_000,
      },
      mtls: { clients: [] },
      throttle: { quota: 10, window: 60_000 },
    },
    console: { enabled: true },
    workers: 1,
  },
  credentials: {
    issuer: "https://api.example.com",
    issuer_retired: [],
    clock_skew: 5 * 60_000,
    api_keys: {
      default_ttl: null,
      max_ttl: 8760 * H,
      prefix: { current: "ory_ak", retired: [], public_current: null, public_retired: [] },
    },
    derived_tokens: {
      default_ttl: H,
      max_ttl: 24 * H,
      jwt: { signing_key_id: "", signing_keys: { urls: [], refresh_interval: 5 * 60_000 } },
      macaroon: { prefix: { current: "mc", retired: [] } },
    },
  },
  secrets: { hmac: { current: SECRET, retired: [] } },
  db: { dsn: "memory", migrate_on_start: false },
  cache: {
    enabled: true,
    ttl: 60_000,
    memory: { max_entries: 100_000 },
    redis: { addrs: [], password: "", db: 0, timeout: 3000, tls: { enabled: false } },
  },
  rate_limit: { enabled: true, backend: "memory", fail_open: true },
  last_used: { queue_size: 10_000, flush_size: 100, flush_interval: 30_000 },
  quota: { api_keys_max: null },
  log: { level: "info", format: "json" },
  multitenancy: { enabled: false, networks: [] },
  tracing: {
    enabled: false,
    service_name: "talos",
    service_version: "",
    environment: "",
    exporter: "otlp",
    endpoint: "http://localhost:4318",
    sample_rate: 0.001,
  },
  usage: { retention: 90 * 24 * H, max_pending: 100_000 },
  proxy: {
    mode: "sidecar",
    talos_authorization: "",
    listen: ":8080",
    metrics_listen: ":8081",
    cache_ttl: 60_000,
    cache_max_size: 100 * 1024 * 1024,
    trust_x_forwarded_host: false,
    allowed_hosts: [],
    invalidation: "stream",
    redis: { addrs: [], password: "", db: 0 },
    gateway: { credential_sources: ["bearer", "x-api-key"], query_param: "api_key", cookie_name: "talos_api_key", strip_credential: true },
    routes: [],
  },
  secret_scanning: {
    github: { enabled: false, public_keys_url: "https://api.github.com/meta/public_keys/secret_scanning", public_keys: [] },
  },
  events: {
    enabled: true,
    retention: 30 * 24 * H,
    expiring_before: [7 * 24 * H],
    scan_interval: 60_000,
    webhooks: [],
    delivery: { poll_interval: 1000, timeout: 10_000, concurrency: 4, max_attempts: 33, backoff_base: 5000, backoff_max: H },
  },
};

describe("defaults", () => {
  it("fills the whole docs/configuration.md defaults table", () => {
    const { config, warnings } = loadConfig({ env: REQUIRED_ENV });
    expect(config).toEqual(DEFAULTS);
    expect(warnings).toEqual([]);
  });

  it("does not share mutable default values between loads", () => {
    const a = load();
    a.serve.http.cors.allowed_origins.push("https://evil.example");
    a.credentials.api_keys.prefix.retired.push("x");
    expect(load()).toEqual(DEFAULTS);
  });

  it("lists every missing required field at once", () => {
    const issues = issuesOf({ env: {} });
    expect(issues).toEqual(["credentials.issuer: required", "secrets.hmac.current: required", "db.dsn: required"]);
  });
});

describe("config file", () => {
  const yaml = `
serve:
  http:
    port: 8080
    client_ip_source: CLIENT_IP_SOURCE_X_FORWARDED_FOR
    cors:
      enabled: true
      allowed_origins: ["https://a.example", "https://b.example"]
      max_age: 600
credentials:
  issuer: https://issuer.example
  issuer_retired:
    - https://old.example
    - value: https://older.example
      expires_at: "2030-01-02T03:04:05Z"
  clock_skew: 90s
  api_keys:
    default_ttl: 30d
    max_ttl: 1y
    prefix:
      current: acme_sk
      retired: [ory_ak]
      public_current: acme_pk
  derived_tokens:
    default_ttl: 1h30m
    jwt:
      signing_keys:
        urls: ["file:///etc/talos/jwks.json"]
secrets:
  hmac:
    current: "${SECRET}"
    retired:
      - "${OLD_SECRET}"
      - value: "${OLD_SECRET}-2"
        expires_at: 2030-01-01T00:00:00+02:00
db:
  dsn: postgres://talos:pw@db:5432/talos?sslmode=disable
  migrate_on_start: true
cache:
  ttl: 2m
  redis:
    addrs: ["redis:6379"]
rate_limit:
  backend: redis
last_used:
  flush_interval: 1.5s
quota:
  api_keys_max: 500
log:
  level: debug
  format: text
`;

  it("reads YAML and converts durations, retired values and lists", () => {
    const config = loadConfig({ file: writeTemp("talos.yaml", yaml), env: {} }).config;
    expect(config.serve.http.port).toBe(8080);
    expect(config.serve.http.client_ip_source).toBe("CLIENT_IP_SOURCE_X_FORWARDED_FOR");
    expect(config.serve.http.cors).toMatchObject({ enabled: true, max_age: 600 });
    expect(config.serve.http.cors.allowed_origins).toEqual(["https://a.example", "https://b.example"]);
    expect(config.credentials.issuer).toBe("https://issuer.example");
    expect(config.credentials.issuer_retired).toEqual([
      { value: "https://old.example", expires_at: null },
      { value: "https://older.example", expires_at: Date.UTC(2030, 0, 2, 3, 4, 5) },
    ]);
    expect(config.credentials.clock_skew).toBe(90_000);
    expect(config.credentials.api_keys.default_ttl).toBe(30 * 24 * H);
    expect(config.credentials.api_keys.max_ttl).toBe(365 * 24 * H);
    expect(config.credentials.api_keys.prefix).toEqual({
      current: "acme_sk",
      retired: ["ory_ak"],
      public_current: "acme_pk",
      public_retired: [],
    });
    expect(config.credentials.derived_tokens.default_ttl).toBe(1.5 * H);
    expect(config.credentials.derived_tokens.max_ttl).toBe(24 * H);
    expect(config.credentials.derived_tokens.jwt.signing_keys.urls).toEqual(["file:///etc/talos/jwks.json"]);
    expect(config.secrets.hmac).toEqual({
      current: SECRET,
      retired: [
        { value: OLD_SECRET, expires_at: null },
        { value: `${OLD_SECRET}-2`, expires_at: Date.UTC(2029, 11, 31, 22, 0, 0) },
      ],
    });
    expect(config.db).toEqual({ dsn: "postgres://talos:pw@db:5432/talos?sslmode=disable", migrate_on_start: true });
    expect(config.cache.ttl).toBe(120_000);
    expect(config.cache.redis.addrs).toEqual(["redis:6379"]);
    expect(config.rate_limit.backend).toBe("redis");
    expect(config.last_used.flush_interval).toBe(1500);
    expect(config.quota.api_keys_max).toBe(500);
    expect(config.log).toEqual({ level: "debug", format: "text" });
  });

  it("reads JSON", () => {
    const json = JSON.stringify({
      serve: { metrics: { enabled: false, port: 9100 } },
      credentials: { issuer: "https://json.example", api_keys: { max_ttl: "720h" } },
      secrets: { hmac: { current: SECRET, retired: [{ value: OLD_SECRET, expires_at: "2031-05-06T07:08:09.5Z" }] } },
      db: { dsn: "pglite://./data" },
      cache: { memory: { max_entries: 500 } },
    });
    const config = loadConfig({ file: writeTemp("talos.json", json), env: {} }).config;
    expect(config.serve.metrics).toEqual({ enabled: false, host: "0.0.0.0", port: 9100, tls: { cert_path: "", key_path: "" } });
    expect(config.credentials.issuer).toBe("https://json.example");
    expect(config.credentials.api_keys.max_ttl).toBe(720 * H);
    expect(config.secrets.hmac.retired).toEqual([{ value: OLD_SECRET, expires_at: Date.UTC(2031, 4, 6, 7, 8, 9, 500) }]);
    expect(config.db.dsn).toBe("pglite://./data");
    expect(config.cache.memory.max_entries).toBe(500);
  });

  it("treats an empty file as no settings", () => {
    expect(load({ file: writeTemp("empty.yaml", "") })).toEqual(DEFAULTS);
  });

  it("fails on a missing file, naming it", () => {
    const file = join(tempDir(), "nope.yaml");
    const issues = issuesOf({ file, env: REQUIRED_ENV });
    expect(issues).toEqual([`${file}: cannot read config file (ENOENT)`]);
  });

  it("fails on malformed YAML with a position but without quoting the file", () => {
    const file = writeTemp("bad.yaml", `secrets:\n  hmac:\n    current: "${SECRET}\n  x: [\n`);
    const issues = issuesOf({ file, env: {} });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: invalid YAML or JSON`));
    expect(issues.join("\n")).not.toContain(SECRET);
  });

  it("rejects a file whose top level is not a mapping", () => {
    const issues = issuesOf({ file: writeTemp("list.yaml", "- a\n- b\n"), env: REQUIRED_ENV });
    expect(issues[0]).toMatch(/the top level must be a mapping/);
  });

  it("rejects unknown keys at every level, all at once", () => {
    const issues = fileIssues(`
serve:
  http:
    prot: 80
  metrics:
    enabled: true
credentials:
  api_keys:
    maxttl: 1h
unknown_section: {}
`);
    expect(issues).toEqual(
      expect.arrayContaining(["serve.http.prot: unknown key", "credentials.api_keys.maxttl: unknown key", "unknown_section: unknown key"]),
    );
    expect(issues).toHaveLength(3);
  });

  it("rejects a scalar where a section belongs", () => {
    expect(fileIssues("serve: 5\n")).toEqual(["serve: must be a mapping"]);
  });
});

describe("environment", () => {
  it("derives env names from key paths", () => {
    expect(envKeyFor("secrets.hmac.current")).toBe("TALOS_SECRETS_HMAC_CURRENT");
    expect(envKeyFor("credentials.api_keys.max_ttl")).toBe("TALOS_CREDENTIALS_API_KEYS_MAX_TTL");
    const names = CONFIG_KEYS.map((k) => envKeyFor(k.path));
    expect(new Set(names).size).toBe(names.length);
    expect(CONFIG_KEYS.find((k) => k.path === "credentials.api_keys.max_ttl")?.kind).toBe("duration");
    expect(CONFIG_KEYS.map((k) => k.path)).toContain("cache.type");
  });

  it("maps keys with underscores unambiguously", () => {
    const config = load({
      env: {
        TALOS_CREDENTIALS_API_KEYS_MAX_TTL: "48h",
        TALOS_CREDENTIALS_API_KEYS_DEFAULT_TTL: "24h",
        TALOS_CREDENTIALS_DERIVED_TOKENS_MAX_TTL: "2h",
        TALOS_SERVE_HTTP_REQUEST_LOG_EXCLUDE_HEALTH_ENDPOINTS: "true",
        TALOS_LAST_USED_FLUSH_SIZE: "50",
        TALOS_CACHE_REDIS_TLS_ENABLED: "1",
      },
    });
    expect(config.credentials.api_keys.max_ttl).toBe(48 * H);
    expect(config.credentials.api_keys.default_ttl).toBe(24 * H);
    expect(config.credentials.derived_tokens.max_ttl).toBe(2 * H);
    expect(config.serve.http.request_log.exclude_health_endpoints).toBe(true);
    expect(config.last_used.flush_size).toBe(50);
    expect(config.cache.redis.tls.enabled).toBe(true);
  });

  it("ignores unknown TALOS_ variables and empty values", () => {
    const config = load({ env: { TALOS_SERVE_HTTP_PROT: "1", TALOS_NOPE: "x", TALOS_SERVE_HTTP_PORT: "" } });
    expect(config).toEqual(DEFAULTS);
  });

  it("takes precedence over the file", () => {
    const file = writeTemp("talos.yaml", "serve:\n  http:\n    port: 1000\n    host: 127.0.0.1\nlog:\n  level: warn\n");
    const config = load({ file, env: { TALOS_SERVE_HTTP_PORT: "2000", TALOS_LOG_LEVEL: "error" } });
    expect(config.serve.http.port).toBe(2000);
    expect(config.serve.http.host).toBe("127.0.0.1");
    expect(config.log.level).toBe("error");
  });

  it("reads booleans as true/false/1/0", () => {
    const on = load({
      env: {
        TALOS_SERVE_HTTP_CORS_ENABLED: "TRUE",
        TALOS_RATE_LIMIT_ENABLED: "0",
        TALOS_RATE_LIMIT_FAIL_OPEN: "false",
        TALOS_SERVE_METRICS_ENABLED: "1",
      },
    });
    expect(on.serve.http.cors.enabled).toBe(true);
    expect(on.rate_limit.enabled).toBe(false);
    expect(on.rate_limit.fail_open).toBe(false);
    expect(on.serve.metrics.enabled).toBe(true);
    expect(issuesOf({ env: { ...REQUIRED_ENV, TALOS_RATE_LIMIT_ENABLED: "yes" } })).toEqual([
      "rate_limit.enabled: must be true, false, 1 or 0 (from TALOS_RATE_LIMIT_ENABLED)",
    ]);
  });

  it("reads integers and rejects non-integers", () => {
    expect(load({ env: { TALOS_CACHE_REDIS_DB: "3" } }).cache.redis.db).toBe(3);
    expect(issuesOf({ env: { ...REQUIRED_ENV, TALOS_SERVE_HTTP_PORT: "80a", TALOS_CACHE_REDIS_DB: "1.5" } })).toEqual([
      "serve.http.port: must be an integer (from TALOS_SERVE_HTTP_PORT)",
      "cache.redis.db: must be an integer (from TALOS_CACHE_REDIS_DB)",
    ]);
  });

  it("reads lists as JSON arrays or comma-separated", () => {
    const config = load({
      env: {
        TALOS_SERVE_HTTP_CORS_ALLOWED_ORIGINS: '["https://a.example","https://b.example"]',
        TALOS_SERVE_HTTP_CORS_ALLOWED_METHODS: "GET, POST ,PATCH",
        TALOS_CREDENTIALS_API_KEYS_PREFIX_RETIRED: "old_ak,older_ak",
        TALOS_CACHE_REDIS_ADDRS: "r1:6379,r2:6380",
      },
    });
    expect(config.serve.http.cors.allowed_origins).toEqual(["https://a.example", "https://b.example"]);
    expect(config.serve.http.cors.allowed_methods).toEqual(["GET", "POST", "PATCH"]);
    expect(config.credentials.api_keys.prefix.retired).toEqual(["old_ak", "older_ak"]);
    expect(config.cache.redis.addrs).toEqual(["r1:6379", "r2:6380"]);
    expect(load({ env: { TALOS_SERVE_HTTP_CORS_ALLOWED_ORIGINS: "[]" } }).serve.http.cors.allowed_origins).toEqual([]);
  });

  it("rejects malformed JSON lists", () => {
    expect(issuesOf({ env: { ...REQUIRED_ENV, TALOS_SERVE_HTTP_CORS_ALLOWED_ORIGINS: '["a",' } })).toEqual([
      "serve.http.cors.allowed_origins: is not a valid JSON array (from TALOS_SERVE_HTTP_CORS_ALLOWED_ORIGINS)",
    ]);
    expect(issuesOf({ env: { ...REQUIRED_ENV, TALOS_CACHE_REDIS_ADDRS: "[1, 2]" } })).toEqual([
      "cache.redis.addrs[0]: must be a string (from TALOS_CACHE_REDIS_ADDRS)",
      "cache.redis.addrs[1]: must be a string (from TALOS_CACHE_REDIS_ADDRS)",
    ]);
  });

  it("reads retired secrets with expires_at from JSON", () => {
    const config = load({
      env: {
        TALOS_SECRETS_HMAC_RETIRED: JSON.stringify([OLD_SECRET, { value: `${OLD_SECRET}-2`, expires_at: "2030-06-01T12:00:00Z" }]),
        TALOS_CREDENTIALS_ISSUER_RETIRED: '[{"value":"https://old.example","expires_at":null}]',
      },
    });
    expect(config.secrets.hmac.retired).toEqual([
      { value: OLD_SECRET, expires_at: null },
      { value: `${OLD_SECRET}-2`, expires_at: Date.UTC(2030, 5, 1, 12) },
    ]);
    expect(config.credentials.issuer_retired).toEqual([{ value: "https://old.example", expires_at: null }]);
  });

  it("reads retired secrets as comma-separated strings", () => {
    const config = load({ env: { TALOS_SECRETS_HMAC_RETIRED: `${OLD_SECRET},${OLD_SECRET}-2` } });
    expect(config.secrets.hmac.retired).toEqual([
      { value: OLD_SECRET, expires_at: null },
      { value: `${OLD_SECRET}-2`, expires_at: null },
    ]);
  });
});

describe("overrides (command-line flags)", () => {
  it("take precedence over env and file", () => {
    const file = writeTemp("talos.yaml", "serve:\n  http:\n    port: 1000\n");
    const config = load({
      file,
      env: { TALOS_SERVE_HTTP_PORT: "2000", TALOS_DB_DSN: "postgres://env/db" },
      overrides: { "serve.http.port": 3000, "db.dsn": "postgres://flag/db", "db.migrate_on_start": true, "log.level": undefined },
    });
    expect(config.serve.http.port).toBe(3000);
    expect(config.db.dsn).toBe("postgres://flag/db");
    expect(config.db.migrate_on_start).toBe(true);
    expect(config.log.level).toBe("info");
  });

  it("coerce text values like env values", () => {
    const config = load({ overrides: { "serve.http.port": "4500", "serve.metrics.enabled": "false", "cache.redis.addrs": "a:1,b:2" } });
    expect(config.serve.http.port).toBe(4500);
    expect(config.serve.metrics.enabled).toBe(false);
    expect(config.cache.redis.addrs).toEqual(["a:1", "b:2"]);
  });

  it("reject unknown keys", () => {
    expect(issuesOf({ env: REQUIRED_ENV, overrides: { "serve.http.prot": 1, serve: {} } })).toEqual([
      "serve.http.prot: unknown configuration key",
      "serve: unknown configuration key",
    ]);
  });
});

describe("db.dsn", () => {
  const base = { TALOS_SECRETS_HMAC_CURRENT: SECRET, TALOS_CREDENTIALS_ISSUER: "https://i.example" };
  const file = () => writeTemp("talos.yaml", "db:\n  dsn: postgres://file/db\n");

  it("is taken from TALOS_DB_DSN, then DSN, then the file", () => {
    expect(loadConfig({ file: file(), env: { ...base, TALOS_DB_DSN: "postgres://talos/db", DSN: "postgres://dsn/db" } }).config.db.dsn).toBe(
      "postgres://talos/db",
    );
    expect(loadConfig({ file: file(), env: { ...base, DSN: "postgres://dsn/db" } }).config.db.dsn).toBe("postgres://dsn/db");
    expect(loadConfig({ file: file(), env: { ...base, TALOS_DB_DSN: "", DSN: "postgres://dsn/db" } }).config.db.dsn).toBe("postgres://dsn/db");
    expect(loadConfig({ file: file(), env: base }).config.db.dsn).toBe("postgres://file/db");
  });

  it.each([
    ["memory", "memory"],
    ["pglite://./data", "pglite://./data"],
    ["pglite:///var/lib/talos", "pglite:///var/lib/talos"],
    ["postgres://u:p@h:5432/db?sslmode=require", "postgres://u:p@h:5432/db?sslmode=require"],
    ["postgresql://u@h/db", "postgresql://u@h/db"],
    ["cockroach://root@crdb:26257/talos?sslmode=disable", "postgresql://root@crdb:26257/talos?sslmode=disable"],
    ["cockroachdb://root@crdb:26257/talos", "postgresql://root@crdb:26257/talos"],
  ])("accepts %s", (dsn, expected) => {
    expect(load({ env: { TALOS_DB_DSN: dsn } }).db.dsn).toBe(expected);
  });

  it.each([
    ["mysql://root:hunter2@h/db", 'unsupported scheme "mysql://"'],
    ["sqlite://./talos.db", 'unsupported scheme "sqlite://"'],
    ["talos:hunter2@localhost/db", "is not a supported DSN"],
    ["pglite://", "pglite:// needs a directory"],
  ])("rejects %s naming the accepted schemes", (dsn, problem) => {
    const issues = issuesOf({ env: { ...REQUIRED_ENV, TALOS_DB_DSN: dsn } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(`db.dsn: ${problem}`);
    if (dsn !== "pglite://") expect(issues[0]).toContain("memory, pglite://<dir>, postgres://, postgresql://, cockroach://, cockroachdb://");
    expect(issues[0]).not.toContain("hunter2");
  });
});

describe("validation", () => {
  it.each<[string, string, string]>([
    ["short HMAC secret", `secrets:\n  hmac:\n    current: too-short\n`, "secrets.hmac.current: must be at least 32 characters"],
    [
      "short retired secret (string)",
      `secrets:\n  hmac:\n    current: "${SECRET}"\n    retired: ["${OLD_SECRET}", "short"]\n`,
      "secrets.hmac.retired[1].value: must be at least 32 characters",
    ],
    [
      "short retired secret (object)",
      `secrets:\n  hmac:\n    current: "${SECRET}"\n    retired: [{value: short, expires_at: "2030-01-01T00:00:00Z"}]\n`,
      "secrets.hmac.retired[0].value: must be at least 32 characters",
    ],
    [
      "retired entry of the wrong shape",
      `secrets:\n  hmac:\n    current: "${SECRET}"\n    retired: [42]\n`,
      "secrets.hmac.retired[0]: must be a string or a {value, expires_at} object",
    ],
    [
      "bad expires_at",
      `secrets:\n  hmac:\n    current: "${SECRET}"\n    retired: [{value: "${OLD_SECRET}", expires_at: "2030-02-30T00:00:00Z"}]\n`,
      'secrets.hmac.retired[0].expires_at: must be an RFC 3339 timestamp such as "2030-01-01T00:00:00Z"',
    ],
    [
      "expires_at without zone",
      `credentials:\n  issuer_retired: [{value: https://o.example, expires_at: "2030-01-01T00:00:00"}]\n`,
      'credentials.issuer_retired[0].expires_at: must be an RFC 3339 timestamp such as "2030-01-01T00:00:00Z"',
    ],
    [
      "bad API key prefix",
      `credentials:\n  api_keys:\n    prefix:\n      current: "ory-ak"\n`,
      "credentials.api_keys.prefix.current: must be 1 to 16 letters, digits or underscores (^[a-zA-Z0-9_]{1,16}$)",
    ],
    [
      "API key prefix too long",
      `credentials:\n  api_keys:\n    prefix:\n      public_current: "abcdefghijklmnopq"\n`,
      "credentials.api_keys.prefix.public_current: must be 1 to 16 letters, digits or underscores (^[a-zA-Z0-9_]{1,16}$)",
    ],
    [
      "bad retired prefix",
      `credentials:\n  api_keys:\n    prefix:\n      retired: [ok_ak, ""]\n`,
      "credentials.api_keys.prefix.retired[1]: must be 1 to 16 letters, digits or underscores (^[a-zA-Z0-9_]{1,16}$)",
    ],
    [
      "macaroon prefix too long",
      `credentials:\n  derived_tokens:\n    macaroon:\n      prefix:\n        current: abcdefghi\n`,
      "credentials.derived_tokens.macaroon.prefix.current: must be 1 to 8 letters, digits or underscores (^[a-zA-Z0-9_]{1,8}$)",
    ],
    [
      "macaroon prefix equal to an API key prefix",
      `credentials:\n  api_keys:\n    prefix:\n      retired: [mc]\n`,
      "credentials.derived_tokens.macaroon.prefix.current: must differ from every credentials.api_keys.prefix value",
    ],
    [
      "retired macaroon prefix equal to an API key prefix",
      `credentials:\n  derived_tokens:\n    macaroon:\n      prefix:\n        retired: [mc_old, ory_ak]\n`,
      "credentials.derived_tokens.macaroon.prefix.retired[1]: must differ from every credentials.api_keys.prefix value",
    ],
    ["clock skew above 10m", `credentials:\n  clock_skew: 11m\n`, "credentials.clock_skew: must be at most 10m"],
    ["negative duration", `credentials:\n  api_keys:\n    max_ttl: -1h\n`, "credentials.api_keys.max_ttl: must not be negative"],
    [
      "malformed duration",
      `credentials:\n  derived_tokens:\n    default_ttl: 1 hour\n`,
      'credentials.derived_tokens.default_ttl: must be a duration such as "30s", "1h30m" or "7d"',
    ],
    ["bare non-zero number as duration", `cache:\n  ttl: 30\n`, 'cache.ttl: must be a duration such as "30s", "1h30m" or "7d"'],
    ["zero flush interval", `last_used:\n  flush_interval: 0s\n`, "last_used.flush_interval: must be greater than zero"],
    [
      "default_ttl above max_ttl",
      `credentials:\n  api_keys:\n    default_ttl: 2y\n`,
      "credentials.api_keys.default_ttl: must not exceed credentials.api_keys.max_ttl (8760h)",
    ],
    ["max_entries below 100", `cache:\n  memory:\n    max_entries: 99\n`, "cache.memory.max_entries: must be an integer between 100 and 10000000"],
    [
      "max_entries above 10M",
      `cache:\n  memory:\n    max_entries: 10000001\n`,
      "cache.memory.max_entries: must be an integer between 100 and 10000000",
    ],
    ["queue_size below 256", `last_used:\n  queue_size: 255\n`, "last_used.queue_size: must be an integer between 256 and 1000000"],
    ["queue_size above 1M", `last_used:\n  queue_size: 1000001\n`, "last_used.queue_size: must be an integer between 256 and 1000000"],
    ["flush_size 0", `last_used:\n  flush_size: 0\n`, "last_used.flush_size: must be an integer between 1 and 10000"],
    ["flush_size above 10000", `last_used:\n  flush_size: 10001\n`, "last_used.flush_size: must be an integer between 1 and 10000"],
    ["fractional int", `last_used:\n  flush_size: 1.5\n`, "last_used.flush_size: must be an integer between 1 and 10000"],
    ["port above 65535", `serve:\n  http:\n    port: 65536\n`, "serve.http.port: must be an integer between 0 and 65535"],
    ["negative metrics port", `serve:\n  metrics:\n    port: -1\n`, "serve.metrics.port: must be an integer between 0 and 65535"],
    ["port as text in a file", `serve:\n  http:\n    port: "80"\n`, "serve.http.port: must be an integer between 0 and 65535"],
    ["unknown rate-limit backend", `rate_limit:\n  backend: memcached\n`, "rate_limit.backend: must be one of: memory, redis"],
    ["redis backend without addrs", `rate_limit:\n  backend: redis\n`, 'rate_limit.backend: "redis" requires cache.redis.addrs to be set'],
    ["redis addr without port", `cache:\n  redis:\n    addrs: [redis]\n`, 'cache.redis.addrs[0]: must be "host:port"'],
    ["unknown cache type", `cache:\n  type: lru\n`, "cache.type: must be one of: noop, memory, redis"],
    ["bad log level", `log:\n  level: verbose\n`, "log.level: must be one of: debug, info, warn, error"],
    ["bad log format", `log:\n  format: xml\n`, "log.format: must be one of: json, text"],
    [
      "bad client_ip_source",
      `serve:\n  http:\n    client_ip_source: X_FORWARDED_FOR\n`,
      "serve.http.client_ip_source: must be one of: CLIENT_IP_SOURCE_UNSPECIFIED, CLIENT_IP_SOURCE_REMOTE_ADDR, CLIENT_IP_SOURCE_CF_CONNECTING_IP, CLIENT_IP_SOURCE_X_FORWARDED_FOR, CLIENT_IP_SOURCE_X_REAL_IP, CLIENT_IP_SOURCE_TRUE_CLIENT_IP",
    ],
    [
      "signing key URL with another scheme (plain http: keys must not travel unauthenticated)",
      `credentials:\n  derived_tokens:\n    jwt:\n      signing_keys:\n        urls: ["http://example.com/jwks.json"]\n`,
      "credentials.derived_tokens.jwt.signing_keys.urls[0]: must be a base64://…, file://… or https://… URL",
    ],
    ["boolean as text in a file", `cache:\n  enabled: "yes"\n`, "cache.enabled: must be true or false"],
    [
      "list given as scalar in a file",
      `serve:\n  http:\n    cors:\n      allowed_origins: "*"\n`,
      "serve.http.cors.allowed_origins: must be a list of strings",
    ],
    ["empty issuer", `credentials:\n  issuer: ""\n`, "credentials.issuer: must not be empty"],
    ["negative quota", `quota:\n  api_keys_max: -1\n`, "quota.api_keys_max: must be a non-negative integer"],
    ["no workers", `serve:\n  workers: 0\n`, "serve.workers: must be an integer between 1 and 256"],
    [
      "several workers on the embedded database",
      `serve:\n  workers: 2\ndb:\n  dsn: pglite://./data\nrate_limit:\n  backend: redis\ncache:\n  redis:\n    addrs: ["127.0.0.1:6379"]\n`,
      "serve.workers: more than 1 needs a PostgreSQL database (db.dsn postgres://…): the embedded database lives in one process",
    ],
    [
      "several workers with memory rate limits",
      `serve:\n  workers: 2\ndb:\n  dsn: postgres://db/talos\n`,
      'serve.workers: more than 1 needs rate_limit.backend "redis": each worker would enforce its own memory quota',
    ],
  ])("%s", (_name, yaml, expected) => {
    // Required keys come from env; blank the ones the file sets so the file's value is the one checked.
    const env: Record<string, string> = {};
    if (yaml.includes("secrets:")) env.TALOS_SECRETS_HMAC_CURRENT = "";
    if (yaml.includes("issuer:")) env.TALOS_CREDENTIALS_ISSUER = "";
    if (yaml.includes("dsn:")) env.TALOS_DB_DSN = "";
    const issues = fileIssues(yaml, env);
    expect(issues).toEqual([expected]);
  });

  it("never echoes a secret in a message", () => {
    const issues = issuesOf({
      env: {
        ...REQUIRED_ENV,
        TALOS_SECRETS_HMAC_CURRENT: "hunter2-secret",
        TALOS_CACHE_REDIS_PASSWORD: "x",
        TALOS_SECRETS_HMAC_RETIRED: '["hunter3-secret"]',
      },
    });
    expect(issues).toEqual([
      "secrets.hmac.current: must be at least 32 characters (from TALOS_SECRETS_HMAC_CURRENT)",
      "secrets.hmac.retired[0].value: must be at least 32 characters (from TALOS_SECRETS_HMAC_RETIRED)",
    ]);
    expect(issues.join("\n")).not.toMatch(/hunter/);
  });

  it("reports several bad fields together", () => {
    const issues = fileIssues(
      `
serve:
  http:
    port: 70000
credentials:
  issuer: ""
  clock_skew: 1h
  api_keys:
    prefix:
      current: "no-dash"
cache:
  memory:
    max_entries: 1
rate_limit:
  backend: redis
log:
  level: loud
`,
      { TALOS_CREDENTIALS_ISSUER: "", TALOS_LAST_USED_FLUSH_SIZE: "0" },
    );
    expect(issues).toEqual([
      "serve.http.port: must be an integer between 0 and 65535",
      "credentials.issuer: must not be empty",
      "credentials.clock_skew: must be at most 10m",
      "credentials.api_keys.prefix.current: must be 1 to 16 letters, digits or underscores (^[a-zA-Z0-9_]{1,16}$)",
      "cache.memory.max_entries: must be an integer between 100 and 10000000",
      "last_used.flush_size: must be an integer between 1 and 10000 (from TALOS_LAST_USED_FLUSH_SIZE)",
      "log.level: must be one of: debug, info, warn, error",
      'rate_limit.backend: "redis" requires cache.redis.addrs to be set',
    ]);
  });

  it("ConfigError's message lists every issue", () => {
    try {
      loadConfig({ env: {} });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(
        "invalid configuration:\n  - credentials.issuer: required\n  - secrets.hmac.current: required\n  - db.dsn: required",
      );
    }
  });
});

describe("accepted edge values", () => {
  it("max_ttl 0 (number or duration) disables the cap and lifts the default_ttl bound", () => {
    const file = writeTemp("talos.yaml", "credentials:\n  api_keys:\n    max_ttl: 0\n    default_ttl: 20y\n  derived_tokens:\n    max_ttl: 0s\n");
    const config = load({ file });
    expect(config.credentials.api_keys.max_ttl).toBe(0);
    expect(config.credentials.api_keys.default_ttl).toBe(20 * 365 * 24 * H);
    expect(config.credentials.derived_tokens.max_ttl).toBe(0);
  });

  it("default_ttl equal to max_ttl is fine; 0 means unset", () => {
    expect(load({ env: { TALOS_CREDENTIALS_API_KEYS_DEFAULT_TTL: "8760h" } }).credentials.api_keys.default_ttl).toBe(8760 * H);
    expect(load({ env: { TALOS_CREDENTIALS_API_KEYS_DEFAULT_TTL: "0s" } }).credentials.api_keys.default_ttl).toBeNull();
  });

  it("port 0 picks a free port; clock_skew may be 0 or exactly 10m; cache.ttl may be negative", () => {
    const config = load({
      env: { TALOS_SERVE_HTTP_PORT: "0", TALOS_SERVE_METRICS_PORT: "0", TALOS_CREDENTIALS_CLOCK_SKEW: "10m", TALOS_CACHE_TTL: "-1s" },
    });
    expect(config.serve.http.port).toBe(0);
    expect(config.serve.metrics.port).toBe(0);
    expect(config.credentials.clock_skew).toBe(600_000);
    expect(config.cache.ttl).toBe(-1000);
    expect(load({ env: { TALOS_CREDENTIALS_CLOCK_SKEW: "0" } }).credentials.clock_skew).toBe(0);
  });

  it("range bounds are inclusive", () => {
    const config = load({
      env: {
        TALOS_CACHE_MEMORY_MAX_ENTRIES: "100",
        TALOS_LAST_USED_QUEUE_SIZE: "1000000",
        TALOS_LAST_USED_FLUSH_SIZE: "10000",
        TALOS_SERVE_HTTP_PORT: "65535",
      },
    });
    expect(config.cache.memory.max_entries).toBe(100);
    expect(config.last_used.queue_size).toBe(1_000_000);
    expect(config.last_used.flush_size).toBe(10_000);
    expect(config.serve.http.port).toBe(65535);
    expect(
      load({ env: { TALOS_CACHE_MEMORY_MAX_ENTRIES: "10000000", TALOS_LAST_USED_QUEUE_SIZE: "256", TALOS_LAST_USED_FLUSH_SIZE: "1" } }).last_used,
    ).toMatchObject({
      queue_size: 256,
      flush_size: 1,
    });
  });

  it("redis backend with addrs is accepted", () => {
    const config = load({ env: { TALOS_RATE_LIMIT_BACKEND: "redis", TALOS_CACHE_REDIS_ADDRS: "redis:6379,[::1]:6380" } });
    expect(config.rate_limit.backend).toBe("redis");
    expect(config.cache.redis.addrs).toEqual(["redis:6379", "[::1]:6380"]);
  });

  it("quota 0 means unlimited", () => {
    expect(load({ env: { TALOS_QUOTA_API_KEYS_MAX: "0" } }).quota.api_keys_max).toBeNull();
    expect(load({ env: { TALOS_QUOTA_API_KEYS_MAX: "25" } }).quota.api_keys_max).toBe(25);
  });

  it("signing key URLs accept base64:// and file://", () => {
    const urls = ["base64://eyJrZXlzIjpbXX0=", "file://./jwks.json"];
    expect(
      load({ env: { TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: JSON.stringify(urls) } }).credentials.derived_tokens.jwt.signing_keys
        .urls,
    ).toEqual(urls);
  });

  it("null in the file means unset for optional keys", () => {
    const file = writeTemp(
      "talos.yaml",
      "credentials:\n  api_keys:\n    default_ttl: ~\n    prefix:\n      public_current: null\nquota:\n  api_keys_max:\n",
    );
    const config = load({ file });
    expect(config.credentials.api_keys.default_ttl).toBeNull();
    expect(config.credentials.api_keys.prefix.public_current).toBeNull();
    expect(config.quota.api_keys_max).toBeNull();
  });
});

describe("cache.type", () => {
  it.each([
    ["noop", false],
    ["memory", true],
    ["redis", true],
  ] as const)("%s folds into cache.enabled = %s", (type, enabled) => {
    const config = load({ env: { TALOS_CACHE_TYPE: type } });
    expect(config.cache.enabled).toBe(enabled);
    expect(config.cache).not.toHaveProperty("type");
  });

  it("an explicit cache.enabled wins, with a warning on contradiction", () => {
    const file = writeTemp("talos.yaml", "cache:\n  type: noop\n");
    const { config, warnings } = loadConfig({ file, env: { ...REQUIRED_ENV, TALOS_CACHE_ENABLED: "true" } });
    expect(config.cache.enabled).toBe(true);
    expect(warnings).toEqual(['cache.type "noop" is ignored because cache.enabled is true']);
    expect(loadConfig({ env: { ...REQUIRED_ENV, TALOS_CACHE_ENABLED: "false", TALOS_CACHE_TYPE: "noop" } }).warnings).toEqual([]);
  });
});

describe("dev mode", () => {
  it("fills db.dsn and issuer, generates the HMAC secret once and re-reads it", () => {
    const root = tempDir();
    const dir = join(root, ".talos");
    const first = loadConfig({ env: {}, dev: { dir } });
    expect(first.config.db.dsn).toBe(`pglite://${dir}/db`);
    expect(first.config.credentials.issuer).toBe("http://localhost:4420");
    const secret = first.config.secrets.hmac.current;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{48}$/);

    const file = join(dir, "hmac-secret");
    expect(readFileSync(file, "utf8").trim()).toBe(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(first.warnings).toHaveLength(1);
    expect(first.warnings[0]).toMatch(/^DEV MODE: .*generated a development HMAC secret.*hmac-secret/);
    expect(first.warnings.join("\n")).not.toContain(secret);

    const second = loadConfig({ env: {}, dev: { dir } });
    expect(second.config.secrets.hmac.current).toBe(secret);
    expect(second.warnings[0]).toMatch(/^DEV MODE: .*development secret stored in/);
    expect(second.warnings.join("\n")).not.toContain(secret);
  });

  it("keeps a relative dev dir relative in the DSN", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "hmac-secret"), `${SECRET}\n`, { mode: 0o600 });
    expect(loadConfig({ env: {}, dev: { dir: `${dir}/` } }).config.db.dsn).toBe(`pglite://${dir}/db`);
    const rel = loadConfig({ env: { TALOS_SECRETS_HMAC_CURRENT: SECRET }, dev: { dir: "./.talos" } });
    expect(rel.config.db.dsn).toBe("pglite://./.talos/db");
  });

  it("configured values win over dev defaults and no secret file is written", () => {
    const dir = join(tempDir(), "dev");
    const { config, warnings } = loadConfig({ env: REQUIRED_ENV, dev: { dir } });
    expect(config).toEqual(DEFAULTS);
    expect(warnings).toEqual([]);
    expect(() => statSync(dir)).toThrow();
  });

  it("rejects a stored dev secret that is too short without echoing it", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "hmac-secret"), "short-secret\n", { mode: 0o600 });
    const issues = issuesOf({ env: {}, dev: { dir } });
    expect(issues).toEqual([
      `secrets.hmac.current: the development secret in ${join(dir, "hmac-secret")} is shorter than 32 characters; delete the file to generate a new one`,
    ]);
  });

  it("warns when the stored dev secret is readable by others", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "hmac-secret"), `${SECRET}\n`, { mode: 0o644 });
    const { warnings } = loadConfig({ env: {}, dev: { dir } });
    expect(warnings.some((w) => w.includes("chmod 600"))).toBe(true);
  });

  it("reports an unwritable dev dir", () => {
    const dir = tempDir();
    const blocker = join(dir, "file");
    writeFileSync(blocker, "");
    const issues = issuesOf({ env: {}, dev: { dir: join(blocker, "sub") } });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^secrets\.hmac\.current: cannot (read|store) .*hmac-secret \(ENOTDIR\)$/);
  });
});
