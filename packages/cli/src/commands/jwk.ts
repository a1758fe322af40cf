import { generateSigningJwk, HMAC_BITS, JWK_KINDS, jwksBase64Url, RSA_BITS, type JwkKind } from "@talos/core";

export interface JwkGenerateOptions {
  kid?: string;
  bits?: string;
  jwks?: boolean;
  base64?: boolean;
}

const usage = (msg: string): number => {
  process.stderr.write(`error: ${msg}\n`);
  return 2;
};

/** `talos jwk generate [eddsa|rsa|ecdsa|hmac]` (docs/cli.md#server-commands): prints a new private JWK, JWKS or base64:// URL. */
export async function jwkGenerateCommand(kindArg: string | undefined, opts: JwkGenerateOptions): Promise<number> {
  const kind = (kindArg ?? "eddsa").toLowerCase() as JwkKind;
  if (!JWK_KINDS.includes(kind)) return usage(`unknown key type "${kindArg}"; use ${JWK_KINDS.join(", ")}`);
  let bits: number | undefined;
  if (opts.bits !== undefined) {
    const sizes: readonly number[] | null = kind === "rsa" ? RSA_BITS : kind === "hmac" ? HMAC_BITS : null;
    if (!sizes) return usage("--bits applies to rsa and hmac keys only");
    bits = Number(opts.bits);
    if (!sizes.includes(bits)) return usage(`--bits for ${kind} keys must be one of ${sizes.join(", ")}`);
  }
  if (opts.kid !== undefined && opts.kid.trim() === "") return usage("--kid must not be empty");
  const jwk = await generateSigningJwk(kind, { kid: opts.kid, bits });
  if (opts.base64) process.stdout.write(`${jwksBase64Url({ keys: [jwk] })}\n`);
  else process.stdout.write(`${JSON.stringify(opts.jwks ? { keys: [jwk] } : jwk, null, 2)}\n`);
  return 0;
}
