import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { CompactSign, calculateJwkThumbprint, compactVerify, importJWK, type CryptoKey, type JWK } from "jose";
import { fetchJwksText } from "./fetch-jwks.js";
import { SigningKeyError } from "./signing-keys-error.js";

/** The JWS algorithms derived JWTs use (docs/derived-tokens.md#jwt): Ed25519 keys sign EdDSA, RSA keys RS256, EC P-256 keys ES256. */
export type TokenAlg = "EdDSA" | "RS256" | "ES256";

/** A served JWKS entry: public members only, built from an allow-list (docs/derived-tokens.md#jwks). */
export type PublicJwk = {
  kty: "OKP" | "RSA" | "EC";
  kid: string;
  use: string;
  alg: TokenAlg;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
};

export interface SigningKey {
  kid: string;
  alg: TokenAlg;
  publicJwk: PublicJwk;
  /** WebCrypto keys as jose imports them */
  verifyKey: CryptoKey;
  /** null for keys published only for verification (no private part) */
  signKey: CryptoKey | null;
}

export interface SigningKeySet {
  keys: SigningKey[];
  /** the key that signs new JWTs; null when none is usable (JWT derive answers 500) */
  signer: SigningKey | null;
  /** why `signer` is null, for the start-up warning */
  signerProblem: string | null;
  /** `credentials.derived_tokens.jwt.signing_key_id` as configured ("" when unset) */
  signingKeyId: string;
  jwks: { keys: PublicJwk[] };
  /** keys by `kid` (several keys may share one) */
  byKid: ReadonlyMap<string, SigningKey[]>;
  /** keys that were skipped (symmetric, unsupported type or use); never contain key material */
  warnings: string[];
}

export { SigningKeyError };

export interface LoadSigningKeysOptions {
  signingKeyId?: string;
  /** base for relative `file://` paths; defaults to the process working directory */
  cwd?: string;
}

const FIELD = "credentials.derived_tokens.jwt.signing_keys.urls";
const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;
const RSA_MIN_BITS = 2048;
const KEY_NAME: Record<TokenAlg, string> = { EdDSA: "Ed25519", RS256: "RSA", ES256: "EC P-256" };

/** Reads every `base64://`, `file://` or `https://` URL (docs/derived-tokens.md#jwks) and imports the usable keys. */
export async function loadSigningKeys(urls: readonly string[], opts: LoadSigningKeysOptions = {}): Promise<SigningKeySet> {
  const sources: { label: string; doc: unknown }[] = [];
  for (const [i, url] of urls.entries()) {
    const label = `${FIELD}[${i}]`;
    sources.push({ label, doc: parseJson(await readUrl(url, label, opts.cwd ?? process.cwd()), label) });
  }
  return signingKeysFromDocuments(sources, opts.signingKeyId ?? "");
}

/** Same as loadSigningKeys for JWKS documents already in memory (tests, benchmarks, dev mode). */
export async function signingKeysFromJwks(docs: readonly unknown[], signingKeyId = ""): Promise<SigningKeySet> {
  return signingKeysFromDocuments(docs.map((doc, i) => ({ label: `jwks[${i}]`, doc })), signingKeyId);
}

async function readUrl(url: string, label: string, cwd: string): Promise<string> {
  if (url.startsWith("base64://")) {
    const text = url.slice("base64://".length).replace(/\s+/g, "");
    if (text === "" || !BASE64_RE.test(text)) throw new SigningKeyError(`${label}: base64:// URL is not valid base64`);
    // Node's decoder accepts the standard and the URL-safe alphabet, padded or not.
    return Buffer.from(text, "base64").toString("utf8");
  }
  if (url.startsWith("file://")) {
    let path = url.slice("file://".length);
    try {
      path = decodeURIComponent(path);
    } catch {
      // not percent-encoded: use as written
    }
    if (path === "") throw new SigningKeyError(`${label}: file:// URL has no path`);
    const full = isAbsolute(path) ? path : resolve(cwd, path);
    try {
      return await readFile(full, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "read error";
      throw new SigningKeyError(`${label}: cannot read ${full} (${code})`);
    }
  }
  if (url.startsWith("https://")) return fetchJwksText(url, label);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1];
  throw new SigningKeyError(`${label}: unsupported URL scheme${scheme ? ` "${scheme}"` : ""}; use base64://, file:// or https://`);
}

function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SigningKeyError(`${label}: not a JSON Web Key Set`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A JWKS `{"keys":[…]}`, or a single JWK (what `talos jwk generate` prints without --jwks). */
function jwksEntries(doc: unknown, label: string): unknown[] {
  if (isObject(doc) && Array.isArray(doc.keys)) return doc.keys;
  if (isObject(doc) && typeof doc.kty === "string") return [doc];
  throw new SigningKeyError(`${label}: not a JSON Web Key Set (expected {"keys":[…]})`);
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

async function importKey(raw: unknown, label: string, warnings: string[]): Promise<SigningKey | null> {
  if (!isObject(raw)) throw new SigningKeyError(`${label}: a key is not a JSON object`);
  const kty = raw.kty;
  const named = str(raw.kid) ? `${label} key "${str(raw.kid)}"` : `${label} key`;
  if (kty === "oct") {
    warnings.push(`${named}: symmetric (oct) keys never sign derived tokens and are not published; ignored`);
    return null;
  }
  const use = str(raw.use) ?? "sig";
  if (use !== "sig") {
    warnings.push(`${named}: use "${use}" is not "sig"; ignored`);
    return null;
  }
  let alg: TokenAlg;
  let pub: JWK;
  let priv: JWK | null = null;
  if (kty === "OKP" && raw.crv === "Ed25519") {
    alg = "EdDSA";
    if (!str(raw.x)) throw new SigningKeyError(`${named}: Ed25519 key without "x"`);
    pub = { kty: "OKP", crv: "Ed25519", x: raw.x as string };
    if (str(raw.d)) priv = { ...pub, d: raw.d as string };
  } else if (kty === "RSA") {
    alg = "RS256";
    if (!str(raw.n) || !str(raw.e)) throw new SigningKeyError(`${named}: RSA key without "n" or "e"`);
    pub = { kty: "RSA", n: raw.n as string, e: raw.e as string };
    const bits = Buffer.from(raw.n as string, "base64url").length * 8;
    if (bits < RSA_MIN_BITS) throw new SigningKeyError(`${named}: RSA keys must have at least ${RSA_MIN_BITS} bits`);
    if (str(raw.d)) {
      priv = { ...pub, d: raw.d as string };
      for (const m of ["p", "q", "dp", "dq", "qi"] as const) if (str(raw[m])) priv[m] = raw[m] as string;
    }
  } else if (kty === "EC" && raw.crv === "P-256") {
    alg = "ES256";
    if (!str(raw.x) || !str(raw.y)) throw new SigningKeyError(`${named}: EC P-256 key without "x" or "y"`);
    pub = { kty: "EC", crv: "P-256", x: raw.x as string, y: raw.y as string };
    if (str(raw.d)) priv = { ...pub, d: raw.d as string };
  } else {
    const what = kty === "OKP" || kty === "EC" ? `${kty} curve "${String(raw.crv)}"` : `key type "${String(kty)}"`;
    warnings.push(`${named}: ${what} is not supported (Ed25519, RSA and EC P-256 only); ignored`);
    return null;
  }
  const kid = str(raw.kid) ?? (await calculateJwkThumbprint(pub, "sha256"));
  let verifyKey: CryptoKey;
  let signKey: CryptoKey | null = null;
  try {
    verifyKey = (await importJWK(pub, alg)) as CryptoKey;
    if (priv) signKey = (await importJWK(priv, alg)) as CryptoKey;
  } catch {
    throw new SigningKeyError(`${named}: invalid ${KEY_NAME[alg]} key material`);
  }
  // A private part that does not belong to the public one would mint tokens nobody can verify.
  if (signKey && !(await pairMatches(alg, signKey, verifyKey))) throw new SigningKeyError(`${named}: the private part does not match the public key`);
  const publicJwk: PublicJwk =
    alg === "EdDSA"
      ? { kty: "OKP", kid, use, alg, crv: "Ed25519", x: pub.x! }
      : alg === "ES256"
        ? { kty: "EC", kid, use, alg, crv: "P-256", x: pub.x!, y: pub.y! }
        : { kty: "RSA", kid, use, alg, n: pub.n!, e: pub.e! };
  return { kid, alg, publicJwk, verifyKey, signKey };
}

async function pairMatches(alg: TokenAlg, signKey: CryptoKey, verifyKey: CryptoKey): Promise<boolean> {
  const jws = await new CompactSign(new TextEncoder().encode("talos")).setProtectedHeader({ alg }).sign(signKey);
  return compactVerify(jws, verifyKey).then(
    () => true,
    () => false,
  );
}

async function signingKeysFromDocuments(sources: { label: string; doc: unknown }[], signingKeyId: string): Promise<SigningKeySet> {
  const warnings: string[] = [];
  const keys: SigningKey[] = [];
  const declaredSig = new Set<SigningKey>();
  for (const { label, doc } of sources) {
    for (const raw of jwksEntries(doc, label)) {
      const k = await importKey(raw, label, warnings);
      if (!k) continue;
      keys.push(k);
      if (isObject(raw) && raw.use === "sig") declaredSig.add(k);
    }
  }
  const byKid = new Map<string, SigningKey[]>();
  for (const k of keys) byKid.set(k.kid, [...(byKid.get(k.kid) ?? []), k]);

  let signer: SigningKey | null = null;
  let signerProblem: string | null = null;
  const signers = keys.filter((k) => k.signKey !== null);
  if (signingKeyId !== "") {
    const match = byKid.get(signingKeyId)?.find((k) => k.signKey !== null);
    if (match) signer = match;
    else if (byKid.has(signingKeyId)) signerProblem = `signing key "${signingKeyId}" has no private part`;
    else signerProblem = `signing key "${signingKeyId}" not found`;
  } else {
    // docs/derived-tokens.md#jwt: the first key that declares `use: "sig"`, else the first usable one.
    signer = signers.find((k) => declaredSig.has(k)) ?? signers[0] ?? null;
    if (!signer) signerProblem = keys.length === 0 ? "no JWT signing key configured" : "no JWT signing key has a private part";
  }
  return { keys, signer, signerProblem, signingKeyId, jwks: { keys: keys.map((k) => k.publicJwk) }, byKid, warnings };
}

const URLS = "credentials.derived_tokens.jwt.signing_keys.urls";

/** Why a JWT cannot be signed, with the setting that fixes it; null when a signer is configured. */
export function signerAdvice(keys: Pick<SigningKeySet, "signerProblem" | "signingKeyId">): string | null {
  if (!keys.signerProblem) return null;
  return keys.signingKeyId
    ? `${keys.signerProblem}: set credentials.derived_tokens.jwt.signing_key_id to the kid of a private key in ${URLS}`
    : `${keys.signerProblem}: set ${URLS} to a JWKS holding a private Ed25519 or RSA key`;
}

/** The JWKS route's answer when no asymmetric key is configured (docs/derived-tokens.md#jwks quotes its start). */
export const NO_SIGNING_KEYS = `no active signing keys found: set ${URLS} to a JWKS holding an Ed25519 or RSA key`;
