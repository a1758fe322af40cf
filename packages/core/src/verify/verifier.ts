import { importedKeyId } from "../keys/imported-key.js";
import { ipInCidrs, parseCidr, type Cidr, type ParsedIp } from "../net/cidr.js";
import { badRequest } from "../errors.js";
import { VerificationError, type KeyKind, type KeyRecord } from "../types.js";
import type { ServiceContext } from "../services/context.js";
import { toCachedKey, type CachedKey, type KeyCache } from "./cache.js";
import { createKeyReader } from "./key-reader.js";
import type { LastUsedQueue } from "./last-used.js";
import { StoreUnavailableError } from "../store/errors.js";
import type { TraceSpan, Tracer } from "../trace.js";
import { annotate } from "./span-attributes.js";
import { usageOutcome, type UsageCounter } from "../usage/counter.js";
import { bareFailure, combineCacheOutcomes, keyOutcome, type CacheOutcome, type TokenType, type Verification } from "./result.js";

export type CacheMode = "default" | "no-cache" | "no-store";

export interface VerifyOptions {
  clientIp: ParsedIp | null;
  cacheMode: CacheMode;
}

export interface Limiter {
  readonly backend: string;
  /** `nowMs` in the result: the clock the decision used (Redis TIME for the shared backend) */
  take(key: string, quota: number, windowMs: number, nowMs: number): Promise<{ allowed: boolean; remaining: number; retryAfterS: number; resetTimeMs: number; nowMs?: number }>;
  /** the same bucket, read only (never spends) */
  peek(key: string, quota: number, windowMs: number, nowMs: number): Promise<{ remaining: number; resetTimeMs: number; nowMs?: number }>;
}

/**
 * A key's rate limit as verify would meet it right now, read without spending (Verifier.quota):
 * `none` no policy; `off` rate_limit.enabled is false; `not_enforced` a unit other than requests
 * (docs/verification.md#rate-limit-headers: advertised, not counted); `unavailable` the limiter
 * failed; `live` the bucket: `remaining` of `limit` requests, full again at `resetTimeMs`.
 */
export type KeyQuota =
  | { state: "none" }
  | { state: "off" }
  | { state: "not_enforced"; unit: string }
  | { state: "unavailable" }
  | { state: "live"; limit: number; windowSeconds: number; remaining: number; resetTimeMs: number; backend: string };

/** Verifies derived tokens (JWT, macaroon) without storage access. */
export interface TokenVerifier {
  verify(type: TokenType, credential: string, clientIp: ParsedIp | null): Promise<Verification>;
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
  /** per-key hourly counts by outcome (docs/observability.md#usage-history) */
  usage?: UsageCounter | null;
  /** spans of the pipeline's steps; null or absent when tracing is off */
  tracer?: Tracer | null;
}

/** A credential after routing and the CPU-only checks: either a lookup to do, or a final answer. */
type Lookup = { kind: KeyKind; keyId: string } | { done: Verification } | { token: TokenType };

/**
 * One key lookup on its way through the pipeline (cache check, read, fill, evaluate). A single
 * verify runs one; a batch runs the same steps over its array, reading every miss in one query.
 */
interface KeyStep {
  readonly kind: KeyKind;
  readonly keyId: string;
  /** undefined until found in the cache or read; null when the store has no such key */
  rec: CachedKey | null | undefined;
  cache: CacheOutcome;
  /** the read failed (store unavailable after retries) */
  failed: boolean;
}

/** Longest credential verify, batch verify, derive and self-revoke accept (docs/verification.md#verification-error-codes). */
export const CREDENTIAL_MAX_CHARS = 8192;

/** Batch verify takes 1 to this many credentials (docs/verification.md#batch-verify). */
export const MAX_BATCH_VERIFY = 100;

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
  /**
   * A plain value when no step waited (a warm cache hit without a limiter decision or a span), so
   * the fast route answers it without a promise; else a promise. Callers may always `await` it.
   */
  verify(credential: string, opts: VerifyOptions): Verification | Promise<Verification>;
  /** Results in request order, each as a single verify; one storage round trip for every uncached key. */
  verifyBatch(credentials: string[], opts: VerifyOptions): Promise<{ results: Verification[]; cache: CacheOutcome }>;
  /** Parent check for derive (docs/derived-tokens.md#derive): cache bypassed, no rate limit, no last-used. */
  loadParent(credential: string): Promise<{ record: KeyRecord } | { error: Verification }>;
  /** The record's live quota on this verifier's network and limiter, without spending any (the console's key page). */
  quota(record: Pick<KeyRecord, "kind" | "keyId" | "rateLimitPolicy">): Promise<KeyQuota>;
}

export function createVerifier(ctx: ServiceContext, deps: VerifierDeps): Verifier {
  const { crypto, nid, clock } = ctx;
  const issuer = ctx.config.credentials.issuer;
  const rl = ctx.config.rate_limit;
  const limiter = rl.enabled ? deps.limiter : null;
  const tr = deps.tracer ?? null;
  const usage = deps.usage ?? null;

  /** The limiter key of a record: quota is per network, kind and key id. */
  const bucketOf = (rec: Pick<KeyRecord, "kind" | "keyId">) => `${nid}:${rec.kind}:${rec.keyId}`;

  /** Counts a verification of a known key id: a found record, or an issued key whose checksum held. */
  function count(keyId: string, v: Verification, now: number): void {
    const o = usageOutcome(v.errorCode);
    if (o) usage!.record(nid, keyId, o, now);
  }

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

  /** docs/verification.md#pipeline steps 4-7 on a found record; a promise only when the limiter has to decide. */
  function gates(rec: CachedKey, opts: VerifyOptions, now: number): Verification | Promise<Verification> {
    // docs/wire.md#api-key-resource status, as keyStatus() computes it for a KeyRecord
    if (rec.revoked) return keyOutcome(rec, VerificationError.REVOKED, issuer);
    if (rec.expireTime !== null && rec.expireTime <= now) return keyOutcome(rec, VerificationError.EXPIRED, issuer);
    const policy = rec.rateLimitPolicy;
    const enforced = limiter !== null && policy !== null && (policy.unit === "" || policy.unit === "requests");
    const noStore = rec.allowedCidrs !== null || (rl.enabled && policy !== null);
    if (rec.allowedCidrs && !(opts.clientIp && ipInCidrs(opts.clientIp, cidrsOf(rec.allowedCidrs)))) {
      return outcome(rec, VerificationError.IP_NOT_ALLOWED, noStore, policy);
    }
    if (!enforced) return outcome(rec, VerificationError.UNSPECIFIED, noStore, policy);
    return limit(rec, policy, noStore, now);
  }

  async function limit(rec: CachedKey, policy: NonNullable<CachedKey["rateLimitPolicy"]>, noStore: boolean, now: number): Promise<Verification> {
    const span = tr?.start("talos.verify.rate_limit", { "talos.rate_limit.backend": limiter!.backend });
    try {
      const d = await limiter!.take(bucketOf(rec), policy.quota, policy.windowSeconds * 1000, now);
      // The shared limiter decides on Redis's clock; express the reset on ours so `t=` is right under skew.
      const reset = now + (d.resetTimeMs - (d.nowMs ?? now));
      deps.observeLimiter?.(d.allowed ? "allowed" : "limited", limiter!.backend);
      const code = d.allowed ? VerificationError.UNSPECIFIED : VerificationError.RATE_LIMITED;
      span?.set("talos.rate_limit.allowed", d.allowed);
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
      deps.observeLimiter?.("error", limiter!.backend);
      deps.onLimiterError?.(e);
      span?.fail("rate limiter unavailable");
      if (!rl.fail_open) return { ...bareFailure(VerificationError.INTERNAL, rec.kind), noStore };
      return outcome(rec, VerificationError.UNSPECIFIED, noStore, policy);
    } finally {
      span?.end();
    }
  }

  function finish(v: Verification, rec: CachedKey | null, now: number): Verification {
    if (v.isValid && rec) deps.lastUsed?.record(nid, rec.keyId, rec.lastUsedTime, now);
    if (usage && rec) count(rec.keyId, v, now);
    deps.observe?.(v);
    return v;
  }

  // concurrent cache misses and no-cache verifies share one query per event-loop round
  const readKey = createKeyReader((n, ids) => ctx.store.repo.getKeys(n, ids));

  /** Step 1, cache check: HIT, or MISS (to read) when the cache was consulted, else SKIP. */
  function check(l: { kind: KeyKind; keyId: string }, mode: CacheMode): KeyStep {
    const cache = mode === "default" ? deps.cache : null;
    const rec = cache?.get(l.kind, l.keyId);
    return { kind: l.kind, keyId: l.keyId, rec, cache: rec ? "HIT" : cache ? "MISS" : "SKIP", failed: false };
  }

  /** Steps 2 and 3, read and fill: the record (or null), cached unless no-store. */
  async function read(s: KeyStep, mode: CacheMode): Promise<void> {
    try {
      const row = await readWithRetry(() => readKey(nid, s.keyId));
      s.rec = row ? toCachedKey(row) : null;
    } catch {
      s.failed = true;
      return;
    }
    if (s.rec && mode !== "no-store") deps.cache?.set(s.rec, clock());
  }

  /** Step 4, evaluate: the gates on the record, with the step's cache outcome. */
  function evaluate(s: KeyStep, opts: VerifyOptions): Verification | Promise<Verification> {
    const now = clock();
    if (s.failed) return finish({ ...bareFailure(VerificationError.INTERNAL, s.kind), cache: s.cache }, null, now);
    const rec = s.rec;
    if (!rec || rec.kind !== s.kind) {
      // imported-key ids are hashes of any input: counting them would let anyone fill the table
      if (usage && s.kind === "issued") usage.record(nid, s.keyId, "not_found", now);
      return finish({ ...bareFailure(VerificationError.NOT_FOUND, s.kind), cache: s.cache }, null, now);
    }
    const v = gates(rec, opts, now);
    if (v instanceof Promise) return v.then((x) => done(x, s, rec, now));
    return done(v, s, rec, now);
  }

  function done(v: Verification, s: KeyStep, rec: CachedKey, now: number): Verification {
    v.cache = s.cache; // gates always returns a fresh object
    return finish(v, rec, now);
  }

  async function token(type: TokenType, credential: string, opts: VerifyOptions): Promise<Verification> {
    const v = deps.tokens ? await deps.tokens.verify(type, credential, opts.clientIp) : bareFailure(VerificationError.INVALID_FORMAT, type);
    // a derived token counts against the key it was derived from
    if (usage && v.keyId) count(v.keyId, v, clock());
    deps.observe?.(v);
    return v;
  }

  /** Not async: the HMAC check, a cache hit and the gates are CPU-only, and most verifies stop there. */
  function verifyOne(credential: string, opts: VerifyOptions): Verification | Promise<Verification> {
    const l = route(credential);
    if ("done" in l) return finish(l.done, null, clock());
    if ("token" in l) return token(l.token, credential, opts);
    const s = check(l, opts.cacheMode);
    if (s.rec === undefined) return read(s, opts.cacheMode).then(() => evaluate(s, opts));
    return evaluate(s, opts);
  }

  async function verifyMany(credentials: string[], opts: VerifyOptions): Promise<{ results: Verification[]; cache: CacheOutcome }> {
    if (credentials.length === 0) throw badRequest("requests", `must contain 1 to ${MAX_BATCH_VERIFY} items`);
    if (credentials.length > MAX_BATCH_VERIFY) throw badRequest("requests", `must contain at most ${MAX_BATCH_VERIFY} items`);
    const lookups = credentials.map(route);
    const steps = lookups.map((l) => ("keyId" in l ? check(l, opts.cacheMode) : null));
    // every miss is asked for in this turn, so the key reader sends them as one query
    const reads: Promise<void>[] = [];
    for (const s of steps) if (s && s.rec === undefined) reads.push(read(s, opts.cacheMode));
    if (reads.length > 0) await Promise.all(reads);
    let cache: CacheOutcome = "SKIP";
    const results: Verification[] = new Array(lookups.length);
    for (let i = 0; i < lookups.length; i++) {
      const s = steps[i];
      const l = lookups[i]!;
      if (s) {
        const v = evaluate(s, opts);
        // only a limiter decision awaits; warm unlimited keys stay synchronous
        results[i] = v instanceof Promise ? await v : v;
        cache = combineCacheOutcomes(cache, s.cache);
      } else if ("done" in l) results[i] = finish(l.done, null, clock());
      else if ("token" in l) results[i] = await token(l.token, credentials[i]!, opts);
    }
    return { results, cache };
  }

  /** The same steps, each in its span (parse, cache, read, rate limit), under one talos.verify span. */
  async function verifyTraced(t: Tracer, credential: string, opts: VerifyOptions, span: TraceSpan): Promise<Verification> {
    const parse = t.start("talos.verify.parse");
    const l = route(credential);
    parse.end();
    let v: Verification;
    if ("done" in l) v = finish(l.done, null, clock());
    else if ("token" in l) v = await token(l.token, credential, opts);
    else {
      const c = t.start("talos.verify.cache", { "talos.cache.mode": opts.cacheMode });
      const s = check(l, opts.cacheMode);
      c.set("talos.cache.outcome", s.cache);
      c.end();
      if (s.rec === undefined) {
        await t.run("talos.verify.read", undefined, async (r) => {
          await read(s, opts.cacheMode);
          r.set("talos.key.found", s.rec !== null && s.rec !== undefined);
          if (s.failed) r.fail("store unavailable");
        });
      }
      v = await evaluate(s, opts);
    }
    annotate(span, v);
    return v;
  }

  return {
    verify(credential, opts) {
      if (tr) return tr.run("talos.verify", undefined, (span) => verifyTraced(tr, credential, opts, span));
      return verifyOne(credential, opts);
    },

    verifyBatch(credentials, opts) {
      if (tr) return tr.run("talos.verify.batch", { "talos.batch.size": credentials.length }, () => verifyMany(credentials, opts));
      return verifyMany(credentials, opts);
    },

    async loadParent(credential) {
      const l = route(credential);
      if ("done" in l) return { error: l.done };
      if ("token" in l) return { error: bareFailure(VerificationError.INVALID_FORMAT, l.token) };
      const rec = await readWithRetry(() => readKey(nid, l.keyId));
      if (!rec || rec.kind !== l.kind) return { error: bareFailure(VerificationError.NOT_FOUND, l.kind) };
      return { record: rec };
    },

    async quota(rec) {
      const policy = rec.rateLimitPolicy;
      if (!policy) return { state: "none" };
      if (!rl.enabled || !limiter) return { state: "off" };
      if (policy.unit !== "" && policy.unit !== "requests") return { state: "not_enforced", unit: policy.unit };
      const now = clock();
      try {
        const p = await limiter.peek(bucketOf(rec), policy.quota, policy.windowSeconds * 1000, now);
        // as in limit(): the reset on our clock, whichever clock the limiter read
        const resetTimeMs = now + (p.resetTimeMs - (p.nowMs ?? now));
        const { quota: limit, windowSeconds } = policy;
        return { state: "live", limit, windowSeconds, remaining: p.remaining, resetTimeMs, backend: limiter.backend };
      } catch (e) {
        deps.onLimiterError?.(e);
        return { state: "unavailable" };
      }
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
