import path from "node:path";

export type DsnKind = "memory" | "pglite" | "postgres";

/** Classifies a DSN; anything else is an error naming the accepted schemes (never echoing the DSN). */
export function dsnKind(dsn: string): DsnKind {
  if (dsn === "memory") return "memory";
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(dsn)?.[1]?.toLowerCase();
  if (scheme === "pglite") return "pglite";
  if (scheme === "postgres" || scheme === "postgresql") return "postgres";
  const shown = scheme ? `"${scheme}://"` : "this DSN";
  throw new Error(`unsupported database DSN ${shown}: use memory, pglite://<dir>, postgres:// or postgresql://`);
}

/** The DSN with its password (userinfo and `password=` parameter) replaced by `***`, for log lines. */
export function redactDsn(dsn: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(dsn);
  if (!m) return dsn;
  const scheme = m[1] ?? "";
  let rest = m[2] ?? "";
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const colon = rest.slice(0, at).indexOf(":");
    if (colon >= 0) rest = `${rest.slice(0, colon)}:***${rest.slice(at)}`;
  }
  rest = rest.replace(/([?&]password=)[^&#]*/gi, "$1***");
  return scheme + rest;
}

/** Directory of a `pglite://` DSN: `pglite://./data` is relative to the cwd, `pglite:///var/lib/talos` absolute. */
export function pgliteDir(dsn: string): string {
  const p = dsn.replace(/^pglite:\/\//i, "");
  if (p === "") throw new Error("pglite:// DSN needs a directory, e.g. pglite://./data");
  return path.resolve(p);
}

/** Splits `pool_max_conns` off a postgres DSN; the other parameters stay for the driver. */
export function splitPoolMax(dsn: string): { url: string; poolMax: number | undefined } {
  const q = dsn.indexOf("?");
  if (q < 0) return { url: dsn, poolMax: undefined };
  const hash = dsn.indexOf("#", q);
  const query = dsn.slice(q + 1, hash < 0 ? undefined : hash);
  const params = new URLSearchParams(query);
  const raw = params.get("pool_max_conns");
  if (raw === null) return { url: dsn, poolMax: undefined };
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new Error("pool_max_conns must be a positive integer");
  }
  params.delete("pool_max_conns");
  const rest = params.toString();
  return { url: dsn.slice(0, q) + (rest ? `?${rest}` : ""), poolMax: n };
}
