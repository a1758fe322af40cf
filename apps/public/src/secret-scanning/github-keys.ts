import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { TalosError, isP256PublicKeyPem, type Config } from "@talos/core";
import type { Logger } from "@talos/http";

/** GitHub's report-signing public keys by key identifier (docs/leaked-keys.md#signature). */
export interface GitHubKeySource {
  /** the key, or null when neither the cache nor a refresh knows `keyId`; throws service_unavailable when the keys cannot be fetched */
  get(keyId: string): Promise<KeyObject | null>;
}

/** An unknown key id refreshes at most this often: a stream of made-up ids must not become a stream of fetches. */
export const MIN_REFRESH_MS = 10_000;
const FETCH_TIMEOUT_MS = 5_000;
const MAX_DOCUMENT_BYTES = 256 * 1024;

type GitHubConfig = Config["secret_scanning"]["github"];

function toKeys(entries: readonly { key_identifier: string; key: string }[]): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const e of entries) out.set(e.key_identifier, createPublicKey(e.key));
  return out;
}

/** `{public_keys: [{key_identifier, key, is_current}]}`, GitHub's published document; entries that are not P-256 keys are skipped. */
function parseDocument(text: string): Map<string, KeyObject> {
  const doc = JSON.parse(text) as { public_keys?: unknown };
  if (!Array.isArray(doc.public_keys)) throw new Error("no public_keys array");
  const entries = doc.public_keys.filter(
    (e): e is { key_identifier: string; key: string } =>
      typeof e === "object" && e !== null && typeof e.key_identifier === "string" && typeof e.key === "string" && isP256PublicKeyPem(e.key),
  );
  return toKeys(entries);
}

async function fetchDocument(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { Accept: "application/json" }, redirect: "follow" });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const text = await res.text();
  if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) throw new Error("document too large");
  return text;
}

/** Configured keys when `public_keys` is set (no fetching); else the URL's document, cached and refreshed on an unknown id. */
export function githubKeySource(cfg: GitHubConfig, logger: Logger, now: () => number = Date.now): GitHubKeySource {
  if (cfg.public_keys.length > 0) {
    const fixed = toKeys(cfg.public_keys);
    return { get: async (keyId) => fixed.get(keyId) ?? null };
  }
  let keys = new Map<string, KeyObject>();
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | null = null;
  const refresh = () =>
    (inFlight ??= (async () => {
      try {
        keys = parseDocument(await fetchDocument(cfg.public_keys_url));
        fetchedAt = now();
      } catch (e) {
        // keep what we had; the next unknown id may try again after the interval
        fetchedAt = now();
        logger.warn({ error: e instanceof Error ? e.message : "error" }, "secret scanning: cannot fetch GitHub's public keys");
        if (keys.size === 0) throw new TalosError("service_unavailable", "GitHub's public keys are unavailable");
      } finally {
        inFlight = null;
      }
    })());
  return {
    async get(keyId) {
      const known = keys.get(keyId);
      if (known) return known;
      if (now() - fetchedAt < MIN_REFRESH_MS) {
        if (keys.size === 0) throw new TalosError("service_unavailable", "GitHub's public keys are unavailable");
        return null;
      }
      await refresh();
      return keys.get(keyId) ?? null;
    },
  };
}

/** ECDSA P-256 / SHA-256 over the raw body, DER signature in base64 (GitHub's scheme). */
export function signatureValid(key: KeyObject, body: Uint8Array, signatureB64: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureB64) || signatureB64.length > 512) return false;
  try {
    return verify("sha256", body, { key, dsaEncoding: "der" }, Buffer.from(signatureB64, "base64"));
  } catch {
    return false;
  }
}
