import { ConfigurationError, NO_SIGNING_KEYS, TalosError } from "@talos/core";
import type { AppDeps } from "./deps.js";
import { errorResponse, json } from "./respond.js";
import type { RouteDef } from "./router.js";
import { ErrorEnvelope, JsonWebKeySet, Status, Version } from "./schemas/responses.js";

/** Why this process is not ready (draining, database down, schema behind), or null when it is. */
export async function readinessProblem(deps: Pick<AppDeps, "ready" | "draining">): Promise<string | null> {
  if (deps.draining()) return "shutting down";
  try {
    await deps.ready();
    return null;
  } catch (e) {
    return e instanceof TalosError ? e.message : "the database is unavailable";
  }
}

/** What the health routes read; `tokens` is absent on a cluster primary (it holds no signing keys). */
export type HealthDeps = Pick<AppDeps, "ready" | "draining"> & { tokens?: Pick<NonNullable<AppDeps["tokens"]>, "signerAdvice"> | null };

/** /health/alive, /health/ready (docs/server.md#health-version-metrics-and-logs). Also served on the metrics listener. */
export function healthRoutes(deps: HealthDeps): RouteDef[] {
  return [
    {
      method: "GET",
      path: "/health/alive",
      summary: "Liveness probe",
      tags: ["health"],
      responses: { 200: { description: "The process serves", schema: Status } },
      handler: () => json(200, { status: "ok" }),
    },
    {
      method: "GET",
      path: "/health/ready",
      summary: "Readiness probe: the database answers and the schema is current",
      tags: ["health"],
      responses: { 200: { description: "Ready", schema: Status }, 503: { description: "Not ready", schema: ErrorEnvelope } },
      handler: async () => {
        const problem = await readinessProblem(deps);
        if (problem !== null) return errorResponse(new TalosError("service_unavailable", problem));
        // a missing signing key fails only derive and JWKS: reported, but still ready
        const detail = deps.tokens?.signerAdvice;
        return json(200, detail ? { status: "ok", detail } : { status: "ok" });
      },
    },
  ];
}

export function versionRoute(deps: AppDeps): RouteDef {
  return {
    method: "GET",
    path: "/version",
    summary: "Server version",
    tags: ["health"],
    responses: { 200: { description: "Version", schema: Version } },
    handler: () => json(200, { version: deps.version }),
  };
}

/** docs/derived-tokens.md#jwks: the bare RFC 7517 key set, public members only. */
export function jwksRoute(deps: AppDeps): RouteDef {
  return {
    method: "GET",
    path: "/v2alpha1/derivedKeys/jwks.json",
    operationId: "getJwks",
    summary: "Public keys that verify derived JWTs",
    tags: ["ApiKeys"],
    responses: { 200: { description: "JWK Set", schema: JsonWebKeySet }, 500: { description: "No signing key", schema: ErrorEnvelope } },
    handler: () => {
      // the token service throws a ConfigurationError naming the setting when it has no key
      if (!deps.tokens) throw new ConfigurationError(NO_SIGNING_KEYS);
      return json(200, deps.tokens.jwks(), { "Cache-Control": "public, max-age=300" });
    },
  };
}
