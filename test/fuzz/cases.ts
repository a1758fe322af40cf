/**
 * Whole requests: every admin and public route with generated bodies, paths, query strings,
 * headers and methods, plus raw byte requests node:http would never send.
 */ import fc from "fast-check";
import { A, type BodyMutation, type FuzzCase } from "./case.js";
import { Obj, RawText, type J } from "./json.js";
import { headers, listQuery, maskQuery, METHODS, pathMutation, usageQuery } from "./parts.js";
import {
  credential,
  duration,
  enumOf,
  field,
  ipRestriction,
  keyId,
  oddString,
  rateLimitPolicy,
  rawKey,
  scopes,
  str,
  struct,
  type Pools,
} from "./values.js";

const VIS = ["KEY_VISIBILITY_UNSPECIFIED", "KEY_VISIBILITY_SECRET", "KEY_VISIBILITY_PUBLIC"];
const REASONS = [
  "REVOCATION_REASON_UNSPECIFIED",
  "REVOCATION_REASON_KEY_COMPROMISE",
  "REVOCATION_REASON_AFFILIATION_CHANGED",
  "REVOCATION_REASON_SUPERSEDED",
  "REVOCATION_REASON_PRIVILEGE_WITHDRAWN",
];
const ALGS = ["TOKEN_ALGORITHM_UNSPECIFIED", "TOKEN_ALGORITHM_JWT", "TOKEN_ALGORITHM_MACAROON"];

type Fields = Record<string, fc.Arbitrary<J>>;
export const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** An object with a random subset of `fields`, in either spelling (or both), plus odd extra keys. */
function objectOf(fields: Fields, mostlyPresent: string[] = []): fc.Arbitrary<Obj> {
  const names = Object.keys(fields);
  const spelling = fc.constantFrom("snake", "snake", "snake", "snake", "camel", "camel", "both");
  const entryArbs = names.map((n) =>
    fc.option(fc.tuple(spelling, fields[n]!), { freq: mostlyPresent.includes(n) ? 10 : 1, nil: null }).map((x): [string, J][] => {
      if (!x) return [];
      const [spell, v] = x;
      const c = camel(n);
      if (spell === "camel") return [[c, v]];
      if (spell === "both" && c !== n)
        return [
          [n, v],
          [c, v],
        ];
      return [[n, v]];
    }),
  );
  const smuggled = names.slice(0, 2);
  const extra = fc.oneof(
    { weight: 20, arbitrary: fc.constant([] as [string, J][]) },
    { weight: 2, arbitrary: fc.tuple(oddString(), field(oddString())).map(([k, v]) => [[k, v]] as [string, J][]) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom("__proto__", "constructor", "prototype"), fc.tuple(...smuggled.map((n) => fields[n]!)))
        .map(([k, vs]) => [[k, new Obj(vs.map((v, i) => [smuggled[i]!, v]))]] as [string, J][]),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom<[string, J][]>(
        [["__proto__", null]],
        [["__proto__", "x"]],
        [["unknown", new RawText("[".repeat(10_000) + "]".repeat(10_000))]],
      ),
    },
  );
  return fc.tuple(fc.tuple(...entryArbs), extra, fc.boolean()).map(([parts, ex, exFirst]) => {
    const entries = parts.flat();
    return new Obj(exFirst ? [...ex, ...entries] : [...entries, ...ex]);
  });
}

function bodyFields(p: Pools) {
  const common: Fields = { name: str(), scopes: scopes(), metadata: struct(), rate_limit_policy: rateLimitPolicy(), ip_restriction: ipRestriction() };
  const issue: Fields = { ...common, actor_id: str(), ttl: duration(), request_id: str(), visibility: enumOf(VIS, 2) };
  const importF: Fields = { raw_key: rawKey(p), ...issue };
  const revoke: Fields = { reason: enumOf(REASONS, 4), description: str() };
  return {
    issue,
    import: importF,
    update: { ...common, key_id: str(), actor_id: str(), status: str(), visibility: enumOf(VIS, 2), expire_time: str() } as Fields,
    rotate: { ...common, visibility: enumOf(VIS, 2) } as Fields,
    revoke,
    verify: { credential: credential(p) } as Fields,
    derive: { credential: credential(p), algorithm: enumOf(ALGS, 2), ttl: duration(), scopes: scopes(), custom_claims: struct() } as Fields,
    selfRevoke: { credential: credential(p), reason: enumOf(REASONS, 4) } as Fields,
  };
}

interface RouteSpec {
  method: string;
  template: string;
  path: fc.Arbitrary<string>;
  body?: fc.Arbitrary<J>;
  query?: fc.Arbitrary<string>;
}

function routes(p: Pools): RouteSpec[] {
  const f = bodyFields(p);
  const o = (fields: Fields, must: string[] = []) => objectOf(fields, must) as fc.Arbitrary<J>;
  const id = (kind: "issued" | "imported" | "any", tmpl: (k: string) => string) => keyId(p, kind).map(tmpl);
  const wrapped = (name: string) =>
    fc.oneof(
      o(f.update),
      o(f.update).map((u) => new Obj([[name, u]]) as J),
      o(f.update).map(
        (u) =>
          new Obj([
            [camel(name), u],
            ["name", "ignored"],
          ]) as J,
      ),
    );
  const batch = (item: fc.Arbitrary<J>, max: number) =>
    fc.oneof(
      { weight: 8, arbitrary: fc.array(item, { maxLength: 6 }).map((a) => new Obj([["requests", a]]) as J) },
      { weight: 1, arbitrary: fc.constant(new Obj([["requests", Array.from({ length: max + 1 }, () => new Obj([]))]]) as J) },
      { weight: 1, arbitrary: field(fc.constant(new Obj([]) as J)).map((v) => new Obj([["requests", v]]) as J) },
    );
  return [
    { method: "POST", template: `${A}/issuedApiKeys`, path: fc.constant(`${A}/issuedApiKeys`), body: o(f.issue) },
    { method: "GET", template: `${A}/issuedApiKeys`, path: fc.constant(`${A}/issuedApiKeys`), query: listQuery(p) },
    { method: "GET", template: `${A}/issuedApiKeys/{key_id}`, path: id("issued", (k) => `${A}/issuedApiKeys/${k}`) },
    {
      method: "PATCH",
      template: `${A}/issuedApiKeys/{key_id}`,
      path: id("issued", (k) => `${A}/issuedApiKeys/${k}`),
      body: wrapped("issued_api_key"),
      query: maskQuery(),
    },
    {
      method: "POST",
      template: `${A}/issuedApiKeys/{key_id}:rotate`,
      path: id("issued", (k) => `${A}/issuedApiKeys/${k}:rotate`),
      body: o(f.rotate),
    },
    {
      method: "POST",
      template: `${A}/issuedApiKeys/{key_id}:revoke`,
      path: id("issued", (k) => `${A}/issuedApiKeys/${k}:revoke`),
      body: o(f.revoke),
    },
    {
      method: "POST",
      template: `${A}/importedApiKeys`,
      path: fc.constant(`${A}/importedApiKeys`),
      body: o(f.import, ["raw_key", "name", "actor_id"]),
    },
    {
      method: "POST",
      template: `${A}/importedApiKeys:batchCreate`,
      path: fc.constant(`${A}/importedApiKeys:batchCreate`),
      body: batch(o(f.import, ["raw_key", "name", "actor_id"]), 1000),
    },
    { method: "GET", template: `${A}/importedApiKeys`, path: fc.constant(`${A}/importedApiKeys`), query: listQuery(p) },
    { method: "GET", template: `${A}/importedApiKeys/{key_id}`, path: id("imported", (k) => `${A}/importedApiKeys/${k}`) },
    {
      method: "PATCH",
      template: `${A}/importedApiKeys/{key_id}`,
      path: id("imported", (k) => `${A}/importedApiKeys/${k}`),
      body: wrapped("imported_api_key"),
      query: maskQuery(),
    },
    {
      method: "POST",
      template: `${A}/importedApiKeys/{key_id}:revoke`,
      path: id("imported", (k) => `${A}/importedApiKeys/${k}:revoke`),
      body: o(f.revoke),
    },
    { method: "DELETE", template: `${A}/importedApiKeys/{key_id}`, path: id("imported", (k) => `${A}/importedApiKeys/${k}`) },
    { method: "POST", template: `${A}/apiKeys:verify`, path: fc.constant(`${A}/apiKeys:verify`), body: o(f.verify, ["credential"]) },
    {
      method: "POST",
      template: `${A}/apiKeys:batchVerify`,
      path: fc.constant(`${A}/apiKeys:batchVerify`),
      body: batch(o(f.verify, ["credential"]), 100),
    },
    { method: "POST", template: `${A}/apiKeys:derive`, path: fc.constant(`${A}/apiKeys:derive`), body: o(f.derive, ["credential"]) },
    { method: "POST", template: `${A}/apiKeys/{key_id}:revoke`, path: id("any", (k) => `${A}/apiKeys/${k}:revoke`), body: o(f.revoke) },
    { method: "GET", template: `${A}/apiKeys/{key_id}/usage`, path: id("any", (k) => `${A}/apiKeys/${k}/usage`), query: usageQuery() },
    {
      method: "POST",
      template: "/v2alpha1/apiKeys:selfRevoke",
      path: fc.constant("/v2alpha1/apiKeys:selfRevoke"),
      body: o(f.selfRevoke, ["credential"]),
    },
    { method: "GET", template: "/v2alpha1/derivedKeys/jwks.json", path: fc.constant("/v2alpha1/derivedKeys/jwks.json") },
    { method: "GET", template: "/gateway/verify", path: fc.constant("/gateway/verify") },
    {
      method: "GET",
      template: "/health/alive",
      path: fc.constantFrom("/health/alive", "/health/ready", "/version", "/openapi.json", "/metrics", "/"),
    },
  ];
}

/** A request to one of the routes, possibly with another method, a mutated path, query and headers. */
export function httpCase(p: Pools): fc.Arbitrary<FuzzCase> {
  const specs = routes(p);
  const plainPaths = specs.map((s) => s.template.replace(/\{key_id\}/, p.issuedIds[0]!).slice(1));
  const hdrs = headers(p);
  const mutation = pathMutation(plainPaths);
  const bodyMutation = fc.oneof(
    { weight: 400, arbitrary: fc.constant<BodyMutation>("none") },
    { weight: 60, arbitrary: fc.constantFrom<BodyMutation>("truncate", "garbage", "bom", "utf16", "empty", "scalar") },
    { weight: 1, arbitrary: fc.constant<BodyMutation>("huge") },
  );
  const lq = listQuery(p);
  return fc.oneof(
    ...specs.map((spec) =>
      fc
        .record({
          method: fc.oneof({ weight: 9, arbitrary: fc.constant(spec.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
          path: spec.path,
          mutation,
          query: spec.query
            ? fc.oneof({ weight: 3, arbitrary: spec.query }, { weight: 1, arbitrary: fc.constant("") })
            : fc.oneof({ weight: 9, arbitrary: fc.constant("") }, { weight: 1, arbitrary: lq }),
          headers: hdrs,
          body: spec.body ? spec.body : fc.option(fc.constant(new Obj([["x", 1]]) as J), { freq: 5 }),
          bodyMutation,
        })
        .map(({ method, path, mutation, query, headers, body, bodyMutation }): FuzzCase => {
          const tags = mutation.tag ? [mutation.tag] : [];
          if (method !== spec.method) tags.push("method");
          return {
            route: `${spec.method} ${spec.template}`,
            method,
            path: mutation.apply(path) + query,
            headers,
            body: body === null || body === undefined ? undefined : { value: body, mutation: bodyMutation },
            tags,
          };
        }),
    ),
  );
}
