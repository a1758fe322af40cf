import { readFileSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { LRUCache } from "lru-cache";
import type { AdminAuthConfig } from "../config/admin-auth.js";
import { adminPrincipal, type AdminPrincipal } from "./permissions.js";

/** A verified token is reused this long at most (and never past its exp): JWKS changes apply soon. */
const CACHE_MS = 60_000;

/**
 * Bearer JWTs from the operator's identity provider (serve.admin_auth.jwt): signature against the
 * JWKS (remote, cached, fetched again for an unknown kid; or a file), iss, aud, exp/nbf with skew,
 * asymmetric algorithms only (jose never accepts `alg: none`). Resolves null for any bad token;
 * rejects only when the JWKS cannot be fetched.
 */
export function createJwtAuthenticator(cfg: AdminAuthConfig["jwt"], now: () => number = Date.now): (token: string) => Promise<AdminPrincipal | null> {
  const keys: JWTVerifyGetKey =
    cfg.jwks_url !== ""
      ? createRemoteJWKSet(new URL(cfg.jwks_url), { cacheMaxAge: cfg.jwks_cache_ttl, cooldownDuration: cfg.jwks_refresh_interval, timeoutDuration: 5_000 })
      : createLocalJWKSet(JSON.parse(readFileSync(cfg.jwks_file, "utf8")));
  const verified = new LRUCache<string, { principal: AdminPrincipal; until: number }>({ max: 10_000 });
  return async (token) => {
    const hit = verified.get(token);
    if (hit && now() < hit.until) return hit.principal;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: cfg.issuer,
        audience: cfg.audience,
        algorithms: cfg.algorithms,
        clockTolerance: Math.floor(cfg.clock_skew / 1000),
        currentDate: new Date(now()),
      }));
    } catch (e) {
      if (e instanceof errors.JWKSTimeout || (e instanceof Error && e.name === "TypeError")) throw e;
      return null;
    }
    const name = payload[cfg.name_claim];
    const p = adminPrincipal(typeof name === "string" && name !== "" ? name : "jwt", "jwt", claimValues(payload[cfg.permissions_claim]));
    const until = Math.min(now() + CACHE_MS, typeof payload.exp === "number" ? payload.exp * 1000 : Number.POSITIVE_INFINITY);
    verified.set(token, { principal: p, until });
    return p;
  };
}

/** `scope`/`scp` as a space-separated string, or a list of strings (`permissions`, Entra's `roles`). */
function claimValues(claim: unknown): string[] {
  if (typeof claim === "string") return claim.split(/\s+/).filter((s) => s !== "");
  if (Array.isArray(claim)) return claim.filter((s): s is string => typeof s === "string");
  return [];
}
