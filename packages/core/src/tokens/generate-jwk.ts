import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";

export type JwkKind = "eddsa" | "rsa";
export const RSA_BITS = [2048, 3072, 4096] as const;

export interface GenerateJwkOptions {
  /** key id; default: the RFC 7638 SHA-256 thumbprint of the public key */
  kid?: string;
  /** RSA modulus length (default 2048) */
  bits?: number;
}

/** A new private signing JWK with `kid`, `use: "sig"` and `alg` (`talos jwk generate`, dev mode). */
export async function generateSigningJwk(kind: JwkKind, opts: GenerateJwkOptions = {}): Promise<JWK> {
  const bits = opts.bits ?? 2048;
  if (kind === "rsa" && !(RSA_BITS as readonly number[]).includes(bits)) throw new Error(`RSA key size must be one of ${RSA_BITS.join(", ")}`);
  const { privateKey } =
    kind === "eddsa"
      ? await generateKeyPair("Ed25519", { extractable: true })
      : await generateKeyPair("RS256", { extractable: true, modulusLength: bits });
  const jwk = await exportJWK(privateKey);
  const pub: JWK = kind === "eddsa" ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x } : { kty: jwk.kty, n: jwk.n, e: jwk.e };
  const kid = opts.kid ?? (await calculateJwkThumbprint(pub, "sha256"));
  const { kty, ...material } = jwk;
  return { kty, kid, use: "sig", alg: kind === "eddsa" ? "EdDSA" : "RS256", ...material };
}

/** `base64://` URL of a JWKS, ready for `credentials.derived_tokens.jwt.signing_keys.urls`. */
export function jwksBase64Url(jwks: { keys: unknown[] }): string {
  return `base64://${Buffer.from(JSON.stringify(jwks), "utf8").toString("base64")}`;
}
