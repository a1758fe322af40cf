import { ensureDevJwks, loadSigningKeys, SigningKeyError, type Config, type SigningKeySet } from "@talos/core";
import type { Logger } from "@talos/http";
import { StartupError } from "./errors.js";

/** JWT signing keys (docs/derived-tokens.md#jwks); in dev mode without URLs, the persisted generated key. */
export async function signingKeys(config: Config, logger: Logger, devDir: string | undefined) {
  const jwt = config.credentials.derived_tokens.jwt;
  let urls = jwt.signing_keys.urls;
  if (devDir !== undefined && urls.length === 0) {
    const dev = await ensureDevJwks(devDir);
    logger.warn(
      { file: dev.file },
      dev.created
        ? "DEV MODE: generated an Ed25519 JWT signing key and saved it (mode 0600); tokens signed now verify only while this file is kept"
        : "DEV MODE: JWT signing key loaded from the development key file",
    );
    if (dev.looseMode) logger.warn({ file: dev.file }, "the development key file is accessible to other users; restrict it with chmod 600");
    urls = [dev.url];
  }
  try {
    const keys = await loadSigningKeys(urls, { signingKeyId: jwt.signing_key_id });
    for (const w of keys.warnings) logger.warn({}, w);
    if (keys.signerProblem) logger.warn({ signing_key_id: jwt.signing_key_id }, `${keys.signerProblem}: JWT derivation answers 500`);
    return keys;
  } catch (e) {
    if (e instanceof SigningKeyError) throw new StartupError(e.message);
    throw e;
  }
}

/**
 * Fetches `https://` signing-key URLs again every `signing_keys.refresh_interval` and swaps the
 * key set in place (derive, verify and the JWKS read it per call). A failed fetch keeps the last
 * good set and logs a warning. Returns the stop function for close().
 */
export function refreshSigningKeys(config: Config, keys: SigningKeySet, logger: Logger): () => void {
  const { urls, refresh_interval: every } = config.credentials.derived_tokens.jwt.signing_keys;
  if (every <= 0 || !urls.some((u) => u.startsWith("https://"))) return () => {};
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const fresh = await loadSigningKeys(urls, { signingKeyId: config.credentials.derived_tokens.jwt.signing_key_id });
      const before = keys.jwks.keys.map((k) => k.kid).join(",");
      Object.assign(keys, fresh);
      const after = fresh.jwks.keys.map((k) => k.kid).join(",");
      if (before !== after) logger.info({ kids: fresh.jwks.keys.map((k) => k.kid) }, "JWT signing keys reloaded");
    } catch (e) {
      // SigningKeyError messages name the URL without its query and never hold key material
      logger.warn({ error: e instanceof Error ? e.message : String(e) }, "JWT signing keys not refreshed; keeping the last key set");
    } finally {
      running = false;
    }
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
