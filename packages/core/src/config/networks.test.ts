import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./index.js";

const SECRET = "main-secret-0123456789abcdef-0123456789";
const ENV = { TALOS_SECRETS_HMAC_CURRENT: SECRET, TALOS_CREDENTIALS_ISSUER: "https://main.example", TALOS_DB_DSN: "memory" };
const A = "0b9e7c1e-5a43-4f11-9a0e-3f3f0f6f4a01";
const B = "6c1a5b0e-1d2e-4c3f-8a4b-5c6d7e8f9a02";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), "talos-networks-"));
  dirs.push(d);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}
function issues(file: string, env: Record<string, string> = ENV): string[] {
  try {
    loadConfig({ file, env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

const main = (networks: string) => `multitenancy:\n  enabled: true\n  networks:\n${networks}`;

describe("multitenancy configuration", () => {
  it("is off by default: no networks resolved", () => {
    const loaded = loadConfig({ env: ENV });
    expect(loaded.config.multitenancy).toEqual({ enabled: false, networks: [] });
    expect(loaded.networks).toEqual([]);
  });

  it("merges each network file over the main configuration (relative to the main file)", () => {
    const d = dir({
      "talos.yaml":
        main(
          `    - { hostname: A.Example.com, id: ${A.toUpperCase()}, config_path: a.yaml }\n    - { hostname: b.example.com, id: ${B}, config_path: b.yaml }\n`,
        ) + "cache:\n  ttl: 30s\n",
      "a.yaml":
        "credentials:\n  issuer: https://a.example.com\n  api_keys:\n    prefix:\n      current: aaa\nsecrets:\n  hmac:\n    current: network-a-secret-0123456789abcdef-0123\nquota:\n  api_keys_max: 5\ncache:\n  ttl: 5s\n",
      "b.yaml": "",
    });
    const { config, networks } = loadConfig({ file: join(d, "talos.yaml"), env: ENV });
    expect(config.multitenancy.networks).toEqual([
      { hostname: "a.example.com", id: A, config_path: "a.yaml" },
      { hostname: "b.example.com", id: B, config_path: "b.yaml" },
    ]);
    const [a, b] = networks;
    expect(a!.file).toBe(join(d, "a.yaml"));
    expect(a!.config.credentials.issuer).toBe("https://a.example.com");
    expect(a!.config.credentials.api_keys.prefix.current).toBe("aaa");
    expect(a!.config.secrets.hmac.current).toBe("network-a-secret-0123456789abcdef-0123");
    expect(a!.config.quota.api_keys_max).toBe(5);
    expect(a!.config.cache.ttl).toBe(5_000);
    // everything unset comes from the main configuration (its environment included)
    expect(b!.config.credentials.issuer).toBe("https://main.example");
    expect(b!.config.secrets.hmac.current).toBe(SECRET);
    expect(b!.config.cache.ttl).toBe(30_000);
    expect(b!.config.db.dsn).toBe("memory");
  });

  it("reports every bad field of every network at once", () => {
    const d = dir({
      "talos.yaml": main(
        `    - { hostname: a.example.com, id: ${A}, config_path: a.yaml }\n    - { hostname: b.example.com, id: ${B}, config_path: missing.yaml }\n`,
      ),
      "a.yaml": "db:\n  dsn: memory\ncache:\n  enabled: false\nsecrets:\n  hmac:\n    current: short\n",
    });
    expect(issues(join(d, "talos.yaml"))).toEqual([
      "multitenancy.networks[0] (a.yaml): db: cannot be set per network",
      "multitenancy.networks[0] (a.yaml): cache.enabled: cannot be set per network",
      "multitenancy.networks[1] (missing.yaml): cannot read the network file (ENOENT)",
    ]);
    const e = dir({
      "talos.yaml": main(`    - { hostname: a.example.com, id: ${A}, config_path: a.yaml }\n`),
      "a.yaml": "secrets:\n  hmac:\n    current: short\ncredentials:\n  clock_skew: 1h\n",
    });
    expect(issues(join(e, "talos.yaml"))).toEqual([
      "multitenancy.networks[0] (a.yaml): credentials.clock_skew: must be at most 10m",
      "multitenancy.networks[0] (a.yaml): secrets.hmac.current: must be at least 32 characters",
    ]);
  });

  it("lists the main file's problems and every network's together, without repeating the main ones", () => {
    const d = dir({
      "talos.yaml": main(`    - { hostname: a.example.com, id: ${A}, config_path: a.yaml }\n`) + "cache:\n  ttl: soon\n",
      "a.yaml": "quota:\n  api_keys_max: -1\n",
    });
    expect(issues(join(d, "talos.yaml"))).toEqual([
      'cache.ttl: must be a duration such as "30s", "1h30m" or "7d"',
      "multitenancy.networks[0] (a.yaml): quota.api_keys_max: must be a non-negative integer",
    ]);
  });

  it("rejects duplicate hostnames and ids, bad UUIDs and hostnames with ports", () => {
    const d = dir({
      "talos.yaml": main(
        `    - { hostname: a.example.com, id: ${A}, config_path: a.yaml }\n    - { hostname: A.EXAMPLE.COM, id: ${A}, config_path: a.yaml }\n    - { hostname: "c.example.com:80", id: nope, config_path: a.yaml }\n`,
      ),
      "a.yaml": "",
    });
    expect(issues(join(d, "talos.yaml"))).toEqual([
      "multitenancy.networks[2].hostname: must be a host name without port (letters, digits, hyphens and dots)",
      "multitenancy.networks[2].id: must be a UUID",
      "multitenancy.networks[1].hostname: duplicates multitenancy.networks[0].hostname",
      "multitenancy.networks[1].id: duplicates multitenancy.networks[0].id",
    ]);
  });

  it("reads the list from TALOS_MULTITENANCY_NETWORKS as a JSON array", () => {
    const d = dir({ "a.yaml": "credentials:\n  issuer: https://a.example.com\n" });
    const { networks } = loadConfig({
      env: {
        ...ENV,
        TALOS_MULTITENANCY_ENABLED: "true",
        TALOS_MULTITENANCY_NETWORKS: JSON.stringify([{ hostname: "a.example.com", id: A, config_path: join(d, "a.yaml") }]),
      },
    });
    expect(networks.map((n) => [n.hostname, n.id, n.config.credentials.issuer])).toEqual([["a.example.com", A, "https://a.example.com"]]);
  });
});
