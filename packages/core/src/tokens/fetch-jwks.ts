import { SigningKeyError } from "./signing-keys-error.js";

const TIMEOUT_MS = 10_000;
const MAX_BYTES = 1 << 20;

/** The URL as it may appear in an error: no user info, no query or fragment (either may carry a token). */
export function redactUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Why a fetch failed, from the error chain: an errno or TLS code, a timeout, never response text. */
function reason(e: unknown): string {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return `no answer within ${TIMEOUT_MS / 1000} s`;
  let innermost = e;
  for (let cur = e, i = 0; cur instanceof Error && i < 5; cur = cur.cause, i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string") return code;
    innermost = cur;
  }
  // undici's own messages ("bad port", …) name no URL
  return innermost instanceof Error ? innermost.message : "fetch failed";
}

/**
 * Fetches a JWKS over HTTPS (docs/derived-tokens.md#jwks) with the process's trust store (system CAs
 * plus `NODE_EXTRA_CA_CERTS`): 10 s timeout, at most 1 MiB, 200 only, redirects followed only to https.
 */
export async function fetchJwksText(raw: string, label: string): Promise<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SigningKeyError(`${label}: not a valid https:// URL`);
  }
  const shown = redactUrl(url);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: "application/jwk-set+json, application/json" }, redirect: "follow" });
  } catch (e) {
    throw new SigningKeyError(`${label}: cannot fetch ${shown} (${reason(e)})`);
  }
  if (new URL(res.url || url.href).protocol !== "https:") throw new SigningKeyError(`${label}: ${shown} redirected to a non-https URL`);
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    throw new SigningKeyError(`${label}: cannot fetch ${shown} (HTTP ${res.status})`);
  }
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MAX_BYTES) {
    await res.body?.cancel().catch(() => {});
    throw new SigningKeyError(`${label}: ${shown} is larger than 1 MiB`);
  }
  // read with a running limit: a missing or lying Content-Length must not buffer an endless body
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.byteLength;
      if (size > MAX_BYTES) {
        await res.body?.cancel().catch(() => {});
        throw new SigningKeyError(`${label}: ${shown} is larger than 1 MiB`);
      }
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof SigningKeyError) throw e;
    throw new SigningKeyError(`${label}: cannot fetch ${shown} (${reason(e)})`);
  }
  return Buffer.concat(chunks).toString("utf8");
}
