import { importedKeyId } from "../keys/imported-key.js";
import { ipInCidrs, parseCidr, type Cidr, type ParsedIp } from "../net/cidr.js";
import { VerificationError, type KeyKind, type KeyRecord } from "../types.js";
import type { ServiceContext } from "../services/context.js";
import { toCachedKey, type CachedKey, type KeyCache } from "./cache.js";
import { createKeyReader } from "./key-reader.js";
import type { LastUsedQueue } from "./last-used.js";
import { StoreUnavailableError } from "../store/errors.js";
import { bareFailure, keyOutcome, type CacheOutcome, type Verification } from "./result.js";

export type CacheMode = "default" | "no-cache" | "no-store";

export interface VerifyOptions {
  clientIp: ParsedIp | null;
  cacheMode: CacheMode;
}

export interface Limiter {
  readonly backend: string;
  /** `nowMs` in the result: the clock the decision used (Redis TIME for the shared backend) */
  take(key: string, quota: number, windowMs: number, nowMs: number): Promise<{ allowed: boolean; remaining: number; retryAfterS: number; resetTimeMs: number; nowMs?: number }>;
}

/** Verifies derived tokens (JWT, macaroon) without storage access. */
export interface TokenVerifier {
  verify(type: "jwt" | "macaroon", credential: string, clientIp: ParsedIp | null): Promise<Verification>;
}

export interface VerifierDeps {
  cache: KeyCache | null;
  limiter: Limiter | null;
  lastUsed: LastUsedQueue | null;
  tokens: TokenVerifier | null;
  /** metrics: every outcome, and every limiter decision */
  observe?: (v: Verification) => void;
  observeLimiter?: (decision: "allowed" | "limited" | "error", backend: string) => void;
  onLimiterError?: (e: unknown) => void;
}

/** A credential after routing and the CPU-only checks: either a lookup to do, or a final answer. */
type Lookup = { kind: KeyKind; keyId: string } | { done: Verification } | { token: "jwt" | "macaroon" };

const compiled = new WeakMap<string[], Cidr[]>();
function cidrsOf(list: string[]): Cidr[] {
  let c = compiled.get(list);
  if (!c) {
    c = list.map(parseCidr).filter((x): x is Cidr => x !== null);
    compiled.set(list, c);
  }
  return c;
}

export interface Verifier {
  verify(credential: string, opts: VerifyOptions): Promise<Verification>;
  /** Results in request order; one storage round trip for every uncached key. */
  verifyBatch(credentials: string[], opts: VerifyOptions): Promise<{ results: Verification[]; cache: CacheOutcome }>;
  /** Parent check for derive (docs/derived-tokens.md#derive): cache bypassed, no rate limit, no last-used. */
  loadParent(credential: string): Promise<{ record: KeyRecord } | { error: Verification }>;
}

export function createVerifier(ctx: ServiceContext, deps: VerifierDeps): Verifier {
  const { crypto, nid, clock } = ctx;
  const issuer = ctx.config.credentials.issuer;
  const rl = ctx.config.rate_limit;
  const limiter = rl.enabled ? deps.limiter : null;

  function route(credential: string): Lookup {
    if (credential === "") return { done: bareFailure(VerificationError.INVALID_FORMAT, null, "credential is required") };
    const r = crypto.route(credential);
    if (r.type === "jwt" || r.type === "macaroon") return { token: r.type };
    if (r.type === "issued") {
      if (!crypto.checkIssued(r.parsed)) return { done: bareFailure(VerificationError.NOT_FOUND, "issued") };
      return { kind: "issued", keyId: r.parsed.keyId };
    }
    return { kind: "imported", keyId: importedKeyId(nid, credential) };
  }

  /** keyOutcome plus the header hints; the object is fresh, so it is filled in place. */
  function outcome(rec: CachedKey, code: VerificationError, noStore: boolean, policyHeader: CachedKey["rateLimitPolicy"]): Verification {
    const v = keyOutcome(rec, code, issuer);
    v.noStore = noStore;
    v.policyHeader = policyHeader;
    return v;
  }

  async function gates(rec: CachedKey, opts: VerifyOptions, now: number, consume: boolean): Promise<Verification> {
    // docs/wire.md#api-key-resource status, as keyStatus() computes it for a KeyRecord
    if (rec.revoked) return keyOutcome(rec, VerificationError.REVOKED, issuer);
    if (rec.expireTime !== null && rec.expireTime <= now) return keyOutcome(rec, VerificationError.EXPIRED, issuer);
    const policy = rec.rateLimitPolicy;
    const enforced = limiter !== null && policy !== null && (policy.unit === "" || policy.unit === "requests");
    const noStore = rec.allowedCidrs !== null || (rl.enabled && policy !== null);
    if (rec.allowedCidrs && !(opts.clientIp && ipInCidrs(opts.clientIp, cidrsOf(rec.allowedCidrs)))) {
      return outcome(rec, VerificationError.IP_NOT_ALLOWED, noStore, policy);
    }
    if (!enforced || !consume) return outcome(rec, VerificationError.UNSPECIFIED, noStore, policy);
    try {
      const d = await limiter.take(`${nid}:${rec.kind}:${rec.keyId}`, policy.quota, policy.windowSeconds * 1000, now);
      // The shared limiter decides on Redis's clock; express the reset on ours so `t=` is right under skew.
      const reset = now + (d.resetTimeMs - (d.nowMs ?? now));
      deps.observeLimiter?.(d.allowed ? "allowed" : "limited", limiter.backend);
      const code = d.allowed ? VerificationError.UNSPECIFIED : VerificationError.RATE_LIMITED;
      const v = keyOutcome(rec, code, issuer);
      return {
        ...v,
        noStore,
        policyHeader: policy,
        limiter: { remaining: d.allowed ? d.remaining : 0, resetTimeMs: reset, retryAfterS: d.retryAfterS },
        rateLimitRemaining: d.allowed ? d.remaining : 0,
        rateLimitResetTime: reset,
      };
    } catch (e) {
      deps.observeLimiter?.("error", limiter.backend);
      deps.onLimiterError?.(e);
      if (!rl.fail_open) return { ...bareFailure(VerificationError.INTERNAL, rec.kind), noStore };
      return outcome(rec, VerificationError.UNSPECIFIED, noStore, policy);
    }
  }

  function finish(v: Verification, rec: CachedKey | null, now: number): Verification {
    if (v.isValid && rec) deps.lastUsed?.record(nid, rec.keyId, rec.lastUsedTime, now);
    deps.observe?.(v);
    return v;
  }

  const internal = (type: KeyKind) => bareFailure(VerificationError.INTERNAL, type);
  // concurrent cache misses and no-cache verifies share one query per event-loop round
  const readKey = createKeyReader((n, ids) => ctx.store.repo.getKeys(n, ids));
  const cacheFor = (mode: CacheMode) => (mode === "default" ? deps.cache : null);

  async function evaluate(l: { kind: KeyKind; keyId: string }, rec: CachedKey | null | undefined, cache: CacheOutcome, opts: VerifyOptions, now: number) {
    if (!rec || rec.kind !== l.kind) return finish({ ...bareFailure(VerificationError.NOT_FOUND, l.kind), cache }, null, now);
    const v = await gates(rec, opts, now, true);
    v.cache = cache; // gates always returns a fresh object
    return finish(v, rec, now);
  }

  async function token(type: "jwt" | "macaroon", credential: string, opts: VerifyOptions): Promise<Verification> {
    const v = deps.tokens ? await deps.tokens.verify(type, credential, opts.clientIp) : bareFailure(VerificationError.INVALID_FORMAT, type);
    deps.observe?.(v);
    return v;
  }

  return {
    async verify(credential, opts) {
      const l = route(credential);
      if ("done" in l) return finish(l.done, null, clock());
      if ("token" in l) return token(l.token, credential, opts);
      const cache = cacheFor(opts.cacheMode);
      let rec = cache?.get(l.kind, l.keyId);
      let outcome: CacheOutcome = "HIT";
      if (!rec) {
        outcome = opts.cacheMode === "default" && deps.cache ? "MISS" : "SKIP";
        try {
          const row = await readWithRetry(() => readKey(nid, l.keyId));
          rec = row ? toCachedKey(row) : undefined;
        } catch {
          return finish({ ...internal(l.kind), cache: outcome }, null, clock());
        }
        if (rec && opts.cacheMode !== "no-store") deps.cache?.set(rec, clock());
      }
      return evaluate(l, rec, outcome, opts, clock());
    },

    async verifyBatch(credentials, opts) {
      const lookups = credentials.map(route);
      const cache = cacheFor(opts.cacheMode);
      const found = new Map<string, CachedKey>();
      const missing: string[] = [];
      let anyMiss = false;
      let anyHit = false;
      for (const l of lookups) {
        if (!("keyId" in l)) continue;
        const hit = cache?.get(l.kind, l.keyId);
        if (hit) {
          anyHit = true;
          found.set(l.keyId, hit);
        } else if (!found.has(l.keyId)) missing.push(l.keyId);
      }
      let failed = false;
      if (missing.length > 0) {
        anyMiss = true;
        try {
          const now = clock();
          for (const row of await readWithRetry(() => ctx.store.repo.getKeys(nid, [...new Set(missing)]))) {
            const rec = toCachedKey(row);
            found.set(rec.keyId, rec);
            if (opts.cacheMode !== "no-store") deps.cache?.set(rec, now);
          }
        } catch {
          failed = true;
        }
      }
      const hitSet = new Set<string>();
      const results: Verification[] = [];
      for (let i = 0; i < lookups.length; i++) {
        const l = lookups[i]!;
        const now = clock();
        if ("done" in l) results.push(finish(l.done, null, now));
        else if ("token" in l) results.push(await token(l.token, credentials[i]!, opts));
        else if (failed && !found.has(l.keyId)) results.push(finish(internal(l.kind), null, now));
        else {
          const outcome: CacheOutcome = !cache ? "SKIP" : hitSet.has(l.keyId) || missing.indexOf(l.keyId) < 0 ? "HIT" : "MISS";
          hitSet.add(l.keyId);
          results.push(await evaluate(l, found.get(l.keyId), outcome, opts, now));
        }
      }
      const cacheHeader: CacheOutcome = !cache || (!anyHit && !anyMiss) ? "SKIP" : anyMiss ? "MISS" : "HIT";
      return { results, cache: cacheHeader };
    },

    async loadParent(credential) {
      const l = route(credential);
      if ("done" in l) return { error: l.done };
      if ("token" in l) return { error: bareFailure(VerificationError.INVALID_FORMAT, l.token) };
      const rec = await readWithRetry(() => readKey(nid, l.keyId));
      if (!rec || rec.kind !== l.kind) return { error: bareFailure(VerificationError.NOT_FOUND, l.kind) };
      return { record: rec };
    },
  };
}

/**
 * Reads are idempotent: after a connection loss (database restart, killed backends) the pool may
 * hand out dead connections until their closes arrive, so retry on fresh ones, briefly backing off.
 */
async function readWithRetry<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      const delay = RETRY_DELAYS_MS[attempt];
      if (!(e instanceof StoreUnavailableError) || delay === undefined) throw e;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

const RETRY_DELAYS_MS = [0, 10, 50];
