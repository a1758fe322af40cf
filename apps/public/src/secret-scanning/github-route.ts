import { MAX_LEAK_REPORTS, TalosError, reportLeaks, type Config } from "@talos/core";
import {
  ErrorEnvelope,
  GitHubSecretScanningFeedback,
  GitHubSecretScanningReport,
  decodeBody,
  json,
  parseWith,
  type AppDeps,
  type RouteDef,
} from "@talos/http";
import { githubKeySource, signatureValid, type GitHubKeySource } from "./github-keys.js";

export const GITHUB_SCANNING_PATH = "/v2alpha1/secretScanning/github";

const unauthorized = () => new TalosError("unauthorized", "the report's signature does not verify");

/** Reads the body as text once: its exact bytes are what GitHub signed. */
async function authenticate(c: { req: { header(n: string): string | undefined; arrayBuffer(): Promise<ArrayBuffer> } }, keys: GitHubKeySource): Promise<Uint8Array> {
  const keyId = c.req.header("github-public-key-identifier");
  const signature = c.req.header("github-public-key-signature");
  const body = new Uint8Array(await c.req.arrayBuffer());
  if (!keyId || !signature || keyId.length > 256) throw unauthorized();
  const key = await keys.get(keyId);
  if (!key || !signatureValid(key, body, signature)) throw unauthorized();
  return body;
}

function parseReport(body: Uint8Array) {
  let value: unknown;
  try {
    value = JSON.parse(decodeBody(body));
  } catch (e) {
    if (e instanceof TalosError) throw e;
    throw new TalosError("bad_request", "request body is not valid JSON");
  }
  // counted before validation: a huge report is refused without looking at its items
  if (Array.isArray(value) && value.length > MAX_LEAK_REPORTS) throw new TalosError("request_too_large", `a report holds at most ${MAX_LEAK_REPORTS} tokens`);
  return parseWith(GitHubSecretScanningReport, value);
}

/**
 * POST /v2alpha1/secretScanning/github (docs/leaked-keys.md#the-receiver): GitHub secret scanning's
 * report of leaked tokens. Served only when secret_scanning.github.enabled is true.
 */
export function githubScanningRoutes(deps: AppDeps, cfg: Config["secret_scanning"]["github"] = deps.ctx.config.secret_scanning.github): RouteDef[] {
  if (!cfg.enabled) return [];
  const keys = githubKeySource(cfg, deps.logger);
  const derivedTokenValid = async (token: string) => (await deps.verifier.verify(token, { clientIp: null, cacheMode: "no-store" })).isValid;
  return [
    {
      method: "POST",
      path: GITHUB_SCANNING_PATH,
      operationId: "githubSecretScanningReport",
      summary: "GitHub secret scanning reports leaked tokens; keys of this server are revoked (KEY_COMPROMISE)",
      tags: ["SecretScanning"],
      body: GitHubSecretScanningReport,
      responses: {
        200: { description: "One label per reported token, in order", schema: GitHubSecretScanningFeedback },
        400: { description: "Malformed report", schema: ErrorEnvelope },
        401: { description: "Missing or bad GITHUB-PUBLIC-KEY-SIGNATURE", schema: ErrorEnvelope },
        413: { description: "More than 1000 tokens", schema: ErrorEnvelope },
        503: { description: "GitHub's public keys cannot be fetched", schema: ErrorEnvelope },
      },
      handler: async (c) => {
        const reports = parseReport(await authenticate(c, keys));
        const outcomes = await reportLeaks(deps.ctx, reports, { reporter: "github", derivedTokenValid });
        return json(
          200,
          reports.map((r, i) => ({ token_raw: r.token, token_type: r.type, label: outcomes[i]!.label })),
        );
      },
    },
  ];
}
