import { generateSigningJwk, jwksBase64Url, RSA_BITS, type JwkKind } from "@talos/core";

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

/** `talos jwk generate [eddsa|rsa]` (docs/cli.md#server-commands): prints a new private signing JWK, JWKS or base64:// URL. */
export async function jwkGenerateCommand(kindArg: string | undefined, opts: JwkGenerateOptions): Promise<number> {
  const kind = (kindArg ?? "eddsa").toLowerCase();
  if (kind !== "eddsa" && kind !== "rsa") return usage(`unknown key type "${kindArg}"; use eddsa or rsa`);
  let bits: number | undefined;
  if (opts.bits !== undefined) {
    if (kind !== "rsa") return usage("--bits applies to rsa keys only");
    bits = Number(opts.bits);
    if (!(RSA_BITS as readonly number[]).includes(bits)) return usage(`--bits must be one of ${RSA_BITS.join(", ")}`);
  }
  if (opts.kid !== undefined && opts.kid.trim() === "") return usage("--kid must not be empty");
  const jwk = await generateSigningJwk(kind as JwkKind, { kid: opts.kid, bits });
  if (opts.base64) process.stdout.write(`${jwksBase64Url({ keys: [jwk] })}\n`);
  else process.stdout.write(`${JSON.stringify(opts.jwks ? { keys: [jwk] } : jwk, null, 2)}\n`);
  return 0;
}
