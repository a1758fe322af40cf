import { randomBytes } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";

export type JwkKind = "eddsa" | "rsa" | "ecdsa" | "hmac";
export const JWK_KINDS: readonly JwkKind[] = ["eddsa", "rsa", "ecdsa", "hmac"];
export const RSA_BITS = [2048, 3072, 4096] as const;
/** HMAC key sizes; the size picks the algorithm (HS256, HS384, HS512) */
export const HMAC_BITS = [256, 384, 512] as const;

export interface GenerateJwkOptions {
  /** key id; default: the RFC 7638 SHA-256 thumbprint of the public key (of the key itself for hmac) */
  kid?: string;
  /** RSA modulus length (default 2048) or HMAC key length (default 256) */
  bits?: number;
}

/**
 * A new private JWK with `kid`, `use: "sig"` and `alg` (`talos jwk generate`, dev mode). eddsa, rsa
 * and ecdsa (P-256, ES256) keys sign derived JWTs; hmac (`oct`) keys are for other consumers: the
 * server never signs with or publishes a symmetric key.
 */
export async function generateSigningJwk(kind: JwkKind, opts: GenerateJwkOptions = {}): Promise<JWK> {
  if (kind === "hmac") {
    const bits = opts.bits ?? 256;
    if (!(HMAC_BITS as readonly number[]).includes(bits)) throw new Error(`HMAC key size must be one of ${HMAC_BITS.join(", ")}`);
    const k = randomBytes(bits / 8).toString("base64url");
    const kid = opts.kid ?? (await calculateJwkThumbprint({ kty: "oct", k }, "sha256"));
    return { kty: "oct", kid, use: "sig", alg: `HS${bits}`, k };
  }
  const bits = opts.bits ?? 2048;
  if (kind === "rsa" && !(RSA_BITS as readonly number[]).includes(bits)) throw new Error(`RSA key size must be one of ${RSA_BITS.join(", ")}`);
  const alg = kind === "eddsa" ? "EdDSA" : kind === "ecdsa" ? "ES256" : "RS256";
  const { privateKey } =
    kind === "eddsa"
      ? await generateKeyPair("Ed25519", { extractable: true })
      : kind === "ecdsa"
        ? await generateKeyPair("ES256", { extractable: true })
        : await generateKeyPair("RS256", { extractable: true, modulusLength: bits });
  const jwk = await exportJWK(privateKey);
  const pub: JWK =
    jwk.kty === "OKP" ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x } : jwk.kty === "EC" ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: jwk.kty, n: jwk.n, e: jwk.e };
  const kid = opts.kid ?? (await calculateJwkThumbprint(pub, "sha256"));
  const { kty, ...material } = jwk;
  return { kty, kid, use: "sig", alg, ...material };
}

/** `base64://` URL of a JWKS, ready for `credentials.derived_tokens.jwt.signing_keys.urls`. */
export function jwksBase64Url(jwks: { keys: unknown[] }): string {
  return `base64://${Buffer.from(JSON.stringify(jwks), "utf8").toString("base64")}`;
}
