import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./load.js";
import { loadProxyConfig } from "./load-proxy.js";

const file = (yaml: string) => {
  const p = join(mkdtempSync(join(tmpdir(), "talos-proxy-cfg-")), "c.yaml");
  writeFileSync(p, yaml);
  return p;
};

function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

describe("loadProxyConfig", () => {
  it("reads only the proxy section: a server file without db or secrets is fine", () => {
    const c = loadProxyConfig({ file: file("log: { level: warn }\nproxy:\n  upstream: http://talos:4420\n  cache_ttl: 5m\n"), env: {} });
    expect(c).toMatchObject({
      mode: "sidecar",
      upstream: "http://talos:4420",
      cache_ttl: 300_000,
      listen: ":8080",
      metrics_listen: ":8081",
      cache_max_size: 104857600,
    });
  });

  it("flags beat TALOS_PROXY_* which beat the file", () => {
    const c = loadProxyConfig({
      file: file("proxy: { upstream: http://file:1, listen: ':1' }\n"),
      env: {
        TALOS_PROXY_UPSTREAM: "http://env:2",
        TALOS_PROXY_LISTEN: ":2",
        TALOS_PROXY_ALLOWED_HOSTS: "a.test,b.test",
        TALOS_PROXY_ROUTES: '[{"path_prefix":"/admin","scopes_all":["admin"]}]',
      },
      overrides: { "proxy.listen": "127.0.0.1:3", "proxy.trust_x_forwarded_host": true },
    });
    expect(c.upstream).toBe("http://env:2");
    expect(c.listen).toBe("127.0.0.1:3");
    expect(c.allowed_hosts).toEqual(["a.test", "b.test"]);
    expect(c.trust_x_forwarded_host).toBe(true);
    expect(c.routes).toEqual([{ path_prefix: "/admin", methods: [], scopes_any: [], scopes_all: ["admin"] }]);
  });

  it("lists every problem: missing upstream, gateway without talos, bad values", () => {
    expect(issues(() => loadProxyConfig({ env: {} }))).toEqual(["proxy.upstream: required (--upstream or TALOS_PROXY_UPSTREAM)"]);
    expect(issues(() => loadProxyConfig({ env: { TALOS_PROXY_UPSTREAM: "http://a:1", TALOS_PROXY_MODE: "gateway" } }))).toEqual([
      "proxy.talos: required in gateway mode (--talos or TALOS_PROXY_TALOS)",
    ]);
    const bad = issues(() =>
      loadProxyConfig({ env: { TALOS_PROXY_UPSTREAM: "ftp://x", TALOS_PROXY_LISTEN: "nope", TALOS_PROXY_CACHE_TTL: "soon" } }),
    );
    expect(bad.map((l) => l.slice(0, l.indexOf(":")))).toEqual(expect.arrayContaining(["proxy.upstream", "proxy.listen", "proxy.cache_ttl"]));
    expect(issues(() => loadProxyConfig({ env: { TALOS_PROXY_UPSTREAM: "http://a:1", TALOS_PROXY_INVALIDATION: "redis" } }))).toEqual([
      "proxy.invalidation: redis needs proxy.redis.addrs",
    ]);
  });
});
