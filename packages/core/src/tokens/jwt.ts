import { CompactSign, compactVerify } from "jose";
import { VerificationError } from "../types.js";
import type { SigningKey, SigningKeySet } from "./signing-keys.js";

const utf8 = new TextEncoder();

/** Compact JWS with header `{"alg","kid","typ":"JWT"}` (docs/derived-tokens.md#jwt). */
export async function signJwt(claims: Record<string, unknown>, key: SigningKey): Promise<string> {
  if (!key.signKey) throw new Error(`signing key "${key.kid}" has no private part`);
  return new CompactSign(utf8.encode(JSON.stringify(claims))).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" }).sign(key.signKey);
}

export type JwtCheck = { ok: true; claims: Record<string, unknown> } | { ok: false; code: VerificationError; message?: string };

function decodePart(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Decodes, then checks the signature against the configured public keys: EdDSA, RS256 or ES256 only, the key
 * found by `kid` (without `kid`, every key of the matching type is tried); `crit` is never honoured.
 */
export async function verifyJwtSignature(token: string, keys: SigningKeySet): Promise<JwtCheck> {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, code: VerificationError.INVALID_FORMAT };
  const header = decodePart(parts[0]!);
  const claims = decodePart(parts[1]!);
  if (!isObject(header) || !isObject(claims)) return { ok: false, code: VerificationError.INVALID_FORMAT };
  if (header.crit !== undefined) return { ok: false, code: VerificationError.SIGNATURE_INVALID, message: "crit header not supported" };
  const alg = header.alg;
  if (alg !== "EdDSA" && alg !== "RS256" && alg !== "ES256") return { ok: false, code: VerificationError.SIGNATURE_INVALID, message: "algorithm not allowed" };
  let candidates: readonly SigningKey[];
  if (header.kid === undefined) candidates = keys.keys;
  else if (typeof header.kid === "string") candidates = keys.byKid.get(header.kid) ?? [];
  else candidates = [];
  for (const k of candidates) {
    if (k.alg !== alg) continue;
    try {
      await compactVerify(token, k.verifyKey, { algorithms: [alg] });
      return { ok: true, claims };
    } catch {
      // try the next key with this kid
    }
  }
  return { ok: false, code: VerificationError.SIGNATURE_INVALID };
}
