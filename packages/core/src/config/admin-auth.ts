/**
 * Schema of `serve.admin_auth` and the TLS listener settings (docs/admin-auth.md). Kept apart from
 * schema.ts, which only places these sections.
 */
import { z } from "zod";
import { ADMIN_TOKEN_HASH } from "../auth/static-tokens.js";
import { PERMISSIONS } from "../auth/permissions.js";
import type { AdminAuthMode, AdminJwtAlgorithm } from "./types.js";
export type { AdminAuthConfig, AdminAuthMode, TlsFiles } from "./types.js";
import { at, strings, type CrossFieldIssue } from "./cross-field.js";
import { durationSchema, enumSchema, intSchema, leaf, mapping, nonEmptyString, stringSchema, typeError, EMPTY } from "./fields.js";

export const ADMIN_AUTH_MODES = ["none", "tokens", "jwt", "mtls"] as const satisfies readonly AdminAuthMode[];
/** Asymmetric algorithms only: an HMAC key would be the JWKS's public key (algorithm confusion). */
export const ADMIN_JWT_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const satisfies readonly AdminJwtAlgorithm[];

const section = <T extends z.core.$ZodLooseShape>(shape: T) => mapping(shape).prefault(EMPTY);
const path = (what: string) => leaf("string", stringSchema().prefault("").describe(what));
const permissionList = () =>
  z.array(enumSchema(PERMISSIONS), { error: typeError("a list of permissions") }).min(1, { error: "must name at least one permission" });

export const httpTlsSchema = () =>
  section({
    cert_path: path("PEM certificate (chain) of the API listener; with key_path it serves HTTPS (TLS 1.2 or later), reloaded when the file changes."),
    key_path: path("PEM private key of the API listener."),
    client_ca_path: path(
      "PEM CA bundle that client certificates must chain to; needed by serve.admin_auth.mode mtls. Connections without a certificate are still accepted (routes outside the admin API).",
    ),
  });

export const metricsTlsSchema = () =>
  section({
    cert_path: path("PEM certificate (chain) of the metrics listener; with key_path it serves HTTPS, reloaded when the file changes."),
    key_path: path("PEM private key of the metrics listener."),
  });

const modeSchema = z
  .preprocess((v) => (typeof v === "string" ? [v] : v), z.array(enumSchema(ADMIN_AUTH_MODES), { error: typeError("a mode or a list of modes") }))
  .prefault(["none"]);

export const adminAuthSchema = section({
  mode: leaf(
    "string[]",
    modeSchema.describe(
      "How admin API callers authenticate: none (default: no authentication, private network only), or one or more of tokens, jwt, mtls (any one that succeeds).",
    ),
  ),
  tokens: leaf(
    "object[]",
    z
      .array(
        mapping({
          name: nonEmptyString(),
          hash: stringSchema().regex(ADMIN_TOKEN_HASH, {
            error: 'must be "sha256:" followed by 64 lowercase hex digits (talos admin-token generate)',
          }),
          permissions: permissionList(),
        }),
        { error: typeError("a list of {name, hash, permissions}") },
      )
      .prefault([])
      .describe(
        "Static admin tokens for mode tokens: [{name, hash, permissions}], hash = sha256:<hex of the token>. Only hashes are stored; print a new entry with talos admin-token generate.",
      ),
  ),
  jwt: section({
    jwks_url: path("URL of the identity provider's JWK Set (cached; fetched again for an unknown kid)."),
    jwks_file: path("A JWK Set file instead of jwks_url."),
    issuer: leaf("string", stringSchema().prefault("").describe("Required iss claim of admin JWTs.")),
    audience: leaf("string", stringSchema().prefault("").describe("Required aud claim of admin JWTs.")),
    algorithms: leaf(
      "string[]",
      z
        .array(enumSchema(ADMIN_JWT_ALGORITHMS), { error: typeError("a list of algorithms") })
        .prefault(["RS256", "PS256", "ES256", "EdDSA"])
        .describe("Accepted signature algorithms (asymmetric only)."),
    ),
    clock_skew: leaf(
      "duration",
      durationSchema({ min: 0, max: 10 * 60_000 })
        .prefault("30s")
        .describe("Leeway on exp and nbf of admin JWTs."),
    ),
    permissions_claim: leaf(
      "string",
      nonEmptyString().prefault("scope").describe("Claim holding the permissions: a space-separated string (scope, scp) or a list (permissions)."),
    ),
    name_claim: leaf("string", nonEmptyString().prefault("sub").describe("Claim naming the principal in logs and events.")),
    jwks_cache_ttl: leaf(
      "duration",
      durationSchema({ min: 1 }).prefault("10m").describe("How long a fetched JWK Set is used before it is fetched again."),
    ),
    jwks_refresh_interval: leaf(
      "duration",
      durationSchema({ min: 0 }).prefault("30s").describe("Least time between two fetches caused by unknown kids."),
    ),
  }),
  mtls: section({
    clients: leaf(
      "object[]",
      z
        .array(
          mapping({
            name: stringSchema().prefault(""),
            subject: stringSchema().prefault(""),
            san: stringSchema().prefault(""),
            permissions: permissionList(),
          }),
          { error: typeError("a list of {name, subject | san, permissions}") },
        )
        .prefault([])
        .describe(
          'Allowed client certificates for mode mtls: [{name, subject, san, permissions}]; subject matches the certificate\'s CN, san one of its SANs as "DNS:host", "URI:spiffe://…" or "email:…".',
        ),
    ),
  }),
  throttle: section({
    quota: leaf(
      "int",
      intSchema(1).prefault(10).describe("Failed admin authentications allowed per client IP per throttle.window before that IP gets 429 (GCRA)."),
    ),
    window: leaf("duration", durationSchema({ min: 1 }).prefault("1m").describe("Window of throttle.quota.")),
  }),
});

/** Rules across the admin_auth and TLS settings (cross-field.ts runs them). */
export function adminAuthIssues(value: unknown): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];
  const base = ["serve", "admin_auth"];
  const auth = at(value, ...base);
  const modes = strings(at(auth, "mode"));
  if (modes.includes("none") && modes.length > 1) issues.push({ path: [...base, "mode"], message: "none cannot be combined with other modes" });
  const tokens = at(auth, "tokens");
  if (modes.includes("tokens") && Array.isArray(tokens) && tokens.length === 0) {
    issues.push({ path: [...base, "tokens"], message: "mode tokens needs at least one token" });
  }
  if (Array.isArray(tokens)) {
    const names = tokens.map((t) => at(t, "name"));
    names.forEach((n, i) => {
      if (typeof n === "string" && names.indexOf(n) !== i) issues.push({ path: [...base, "tokens", i, "name"], message: "must be unique" });
    });
  }
  if (modes.includes("jwt")) {
    const jwt = at(auth, "jwt");
    const url = at(jwt, "jwks_url");
    const file = at(jwt, "jwks_file");
    if ((url === "") === (file === "")) issues.push({ path: [...base, "jwt"], message: "mode jwt needs exactly one of jwks_url and jwks_file" });
    if (typeof url === "string" && url !== "" && !/^https?:\/\/./.test(url))
      issues.push({ path: [...base, "jwt", "jwks_url"], message: "must be an http:// or https:// URL" });
    for (const key of ["issuer", "audience"]) {
      if (at(jwt, key) === "") issues.push({ path: [...base, "jwt", key], message: "required by mode jwt" });
    }
  }
  const clients = at(auth, "mtls", "clients");
  if (Array.isArray(clients)) {
    clients.forEach((c, i) => {
      if (at(c, "subject") === "" && at(c, "san") === "") issues.push({ path: [...base, "mtls", "clients", i], message: "needs subject or san" });
    });
  }
  if (modes.includes("mtls")) {
    if (Array.isArray(clients) && clients.length === 0)
      issues.push({ path: [...base, "mtls", "clients"], message: "mode mtls needs at least one client" });
    if (at(value, "serve", "http", "tls", "client_ca_path") === "") {
      issues.push({ path: ["serve", "http", "tls", "client_ca_path"], message: "required by serve.admin_auth.mode mtls" });
    }
  }
  for (const listener of ["http", "metrics"]) {
    const tls = at(value, "serve", listener, "tls");
    const cert = at(tls, "cert_path");
    const key = at(tls, "key_path");
    if (typeof cert === "string" && typeof key === "string" && (cert === "") !== (key === "")) {
      issues.push({ path: ["serve", listener, "tls"], message: "cert_path and key_path go together" });
    }
    if (at(tls, "client_ca_path") !== undefined && at(tls, "client_ca_path") !== "" && cert === "") {
      issues.push({ path: ["serve", listener, "tls", "client_ca_path"], message: "needs cert_path and key_path (TLS)" });
    }
  }
  return issues;
}
