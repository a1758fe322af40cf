/** Turning a case into bytes, and what each case is owed beyond the common properties. */
import type { FuzzCase } from "./case.js";
import { Dyn, Obj, RawText, serialize, toBuffer, traits, type Resolve } from "./json.js";
import type { Expectation } from "./oracle.js";
import { isBadUnit, TINY_TTLS } from "./values.js";
import type { WireRequest } from "./wire.js";

/** The request as bytes/headers to send; secrets picked from the live pool are filled in here. */
export function materialize(c: FuzzCase, resolve: Resolve): WireRequest {
  if (c.raw !== undefined) return { method: c.raw.startsWith("HEAD") ? "HEAD" : "RAW", path: c.path, headers: [], raw: Buffer.from(c.raw, "latin1") };
  let body: Buffer | undefined;
  if (c.body) {
    const text = toBuffer(serialize(c.body.value, resolve));
    switch (c.body.mutation) {
      case "none":
        body = text;
        break;
      case "truncate":
        body = text.subarray(0, Math.max(1, Math.floor(text.length / 2)));
        break;
      case "garbage":
        body = Buffer.concat([text, Buffer.from("}{,]")]);
        break;
      case "bom":
        body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]);
        break;
      case "utf16":
        body = Buffer.from(text.toString("utf8"), "utf16le");
        break;
      case "empty":
        body = Buffer.alloc(0);
        break;
      case "scalar":
        body = Buffer.from(["[]", '"str"', "1", "null", "true", "[{}]"][text.length % 6]!);
        break;
      case "huge":
        body = Buffer.concat([Buffer.from('{"pad":"'), Buffer.alloc(4 * 1024 * 1024 + 16, 0x61), Buffer.from('"}')]);
        break;
    }
  }
  const headers = c.headers.filter(([k]) => !/^(content-length|transfer-encoding|host)$/i.test(k));
  return { method: c.method, path: c.path, headers, body };
}

/** What this case is owed beyond the common properties (issue 12's defects, stated as the fix). */
export function expectations(c: FuzzCase): Expectation[] {
  const out: Expectation[] = [];
  const pathOnly = c.path.split("?")[0]!;
  // Node answers these itself before any route (417; 413 comes before routing): no route-level expectation
  if (c.headers.some(([k, v]) => /^expect$/i.test(k) && !/^100-continue$/i.test(v)) || c.body?.mutation === "huge") return out;
  if (c.tags.includes("dot-segment") || c.tags.includes("encoded-slash") || c.tags.includes("backslash")) {
    if (hasDotOrSlash(pathOnly)) out.push({ status: [400, 404], why: `${c.tags.find((t) => /dot|slash/.test(t))} → 400/404, never another route` });
  }
  if (c.raw !== undefined || c.tags.length || !c.body || c.body.mutation !== "none") return out;
  if (c.headers.some(([k]) => /^(expect|content-encoding|upgrade|connection)$/i.test(k))) return out;
  const [method, template] = c.route.split(" ") as [string, string];
  if (method !== c.method) return out;
  const keyed = template.includes("{key_id}");
  const v = c.body.value;
  if (!(v instanceof Obj)) return out;
  // exactly 400 where the codec decides before anything else; where a key's state can answer first
  // (keyed routes, derive's parent) or core validates after other checks (ttl, unit): no success
  const early = !keyed && !template.endsWith(":derive");
  const refuse = (why: string, codec = true) => out.push(early && codec ? { status: [400], why } : { notSuccess: true, why });
  if (traits(v).badUtf8) refuse("invalid UTF-8 / lone surrogate → 400");
  const holder = v.get("issued_api_key") ?? v.get("issuedApiKey") ?? v.get("imported_api_key") ?? v.get("importedApiKey");
  const res = holder instanceof Obj ? holder : v;
  if (v.has("__proto__")) refuse("__proto__ key → 400");
  const structs = template.endsWith(":derive")
    ? ["custom_claims", "customClaims"]
    : /issuedApiKeys(\/\{key_id\}(:rotate)?)?$|importedApiKeys(\/\{key_id\})?$/.test(template)
      ? ["metadata"]
      : [];
  for (const name of structs) {
    const m = res.get(name);
    if (m instanceof Obj && m.has("__proto__")) refuse(`__proto__ inside ${name} → 400`);
  }
  const ttl = v.get("ttl");
  if (typeof ttl === "string" && TINY_TTLS.includes(ttl) && /issuedApiKeys$|importedApiKeys$|:derive$/.test(template))
    refuse("ttl below 1s → 400", false);
  for (const key of ["rate_limit_policy", "rateLimitPolicy"]) {
    const pol = res.get(key);
    if (pol instanceof Obj && isBadUnit(pol.get("unit")) && !template.includes(":batchCreate"))
      refuse("rate_limit_policy.unit outside visible ASCII or with quote/backslash → 400", false);
  }
  const deep = v.entries.some(([, x]) => x instanceof RawText && x.text.startsWith("[[[[")); // over the nesting limit: 400
  if (template.endsWith("apiKeys:verify") && out.length === 0 && !deep && !v.has("constructor") && !v.has("prototype")) {
    const cred = v.get("credential");
    const names = v.entries.map(([k]) => k);
    const credOk = (typeof cred === "string" && cred.length >= 1 && cred.length <= 8192) || cred instanceof Dyn;
    if (credOk && new Set(names).size === names.length) out.push({ status: [200], why: "verify of a well-formed request → 200" });
  }
  return out;
}

function hasDotOrSlash(path: string): boolean {
  if (path.includes("\\")) return true;
  return path.split("/").some((seg) => {
    let s: string;
    try {
      s = decodeURIComponent(seg);
    } catch {
      return false;
    }
    return s === "." || s === ".." || s.includes("/") || s.includes("\\");
  });
}
