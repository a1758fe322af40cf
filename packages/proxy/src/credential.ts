import type { ProxyConfig } from "@talos/core";
import type { HeaderMap } from "./upstream.js";

type Source = ProxyConfig["gateway"]["credential_sources"][number];

export interface Found {
  credential: string;
  source: Source;
}

function one(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v[0] : v)?.trim() ?? "";
}

function cookieValue(header: string, name: string): string {
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i !== -1 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return part.slice(i + 1).trim();
      }
    }
  }
  return "";
}

/** The credential from the first configured source that has one (docs/proxy.md#gateway). */
export function findCredential(g: ProxyConfig["gateway"], headers: HeaderMap, url: URL): Found | null {
  for (const source of g.credential_sources) {
    let credential = "";
    if (source === "bearer") credential = /^bearer[ \t]+(\S+)$/i.exec(one(headers["authorization"]))?.[1] ?? "";
    else if (source === "x-api-key") credential = one(headers["x-api-key"]);
    else if (source === "query") credential = url.searchParams.get(g.query_param) ?? "";
    else credential = cookieValue(one(headers["cookie"]), g.cookie_name);
    if (credential !== "") return { credential, source };
  }
  return null;
}

/** Removes the credential from where it was found: the header, the query parameter or the cookie. */
export function stripCredential(g: ProxyConfig["gateway"], found: Found, headers: HeaderMap, url: URL): void {
  if (found.source === "bearer") delete headers["authorization"];
  else if (found.source === "x-api-key") delete headers["x-api-key"];
  else if (found.source === "query") url.searchParams.delete(g.query_param);
  else {
    const rest = one(headers["cookie"])
      .split(";")
      .filter((p) => p.split("=")[0]!.trim() !== g.cookie_name)
      .join(";")
      .trim();
    if (rest === "") delete headers["cookie"];
    else headers["cookie"] = rest;
  }
}

const RAW_SAFE = /^[\x21-\x24\x26-\x7e]+$/; // visible ASCII without '%'
const UNRESERVED = /^[A-Za-z0-9\-_.~]$/;

/** As GET /gateway/verify writes them: free text percent-encoded unless plain visible ASCII. */
export function headerValue(value: string, isListItem: boolean): string {
  if (RAW_SAFE.test(value) && !(isListItem && value.includes(","))) return value;
  let out = "";
  for (const b of Buffer.from(value, "utf8")) {
    out += UNRESERVED.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
