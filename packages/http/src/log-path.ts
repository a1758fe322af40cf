import type { RouteDef } from "./router.js";

const KEY_ID = /^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-f]{64})$/;
const KEEP = new Set(["", ".", ".."]);

/**
 * The request path as the request log shows it (docs/server.md#health-version-metrics-and-logs: secrets never reach a log). A client
 * can paste a secret or raw key into a URL; only route literals (`issuedApiKeys`, `apiKeys:verify`)
 * and key-id shaped segments (UUID, 64 hex, with a route suffix like `:revoke`) are kept, any
 * other segment becomes `*`.
 */
export function createPathRedactor(routes: RouteDef[]): (rawPath: string) => string {
  const literals = new Set<string>();
  const suffixes = new Set<string>([""]);
  for (const r of routes) {
    for (const seg of r.path.split("/").slice(1)) {
      const m = /^\{[a-z_.]+\}(.*)$/.exec(seg);
      if (m) suffixes.add(m[1]!);
      else literals.add(seg);
    }
  }
  const keep = (seg: string): boolean => {
    let s: string;
    try {
      s = decodeURIComponent(seg);
    } catch {
      return false;
    }
    if (KEEP.has(s) || literals.has(s)) return true;
    for (const suffix of suffixes) {
      if (s.length > suffix.length && s.endsWith(suffix) && KEY_ID.test(s.slice(0, s.length - suffix.length))) return true;
    }
    return false;
  };
  return (rawPath) =>
    rawPath
      .split("/")
      .map((seg, i) => (i === 0 || keep(seg) ? seg : "*"))
      .join("/");
}
