import { TalosError } from "@talos/core";
import type { AppDeps } from "./deps.js";
import { json } from "./body.js";
import { envelope, errorResponse } from "./errors.js";
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

/** /health/alive, /health/ready (docs/server.md#health-version-metrics-and-logs). Also served on the metrics listener. */
export function healthRoutes(deps: Pick<AppDeps, "ready" | "draining">): RouteDef[] {
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
        return problem === null ? json(200, { status: "ok" }) : errorResponse(new TalosError("service_unavailable", problem));
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
      let set: { keys: Record<string, unknown>[] } | null = null;
      try {
        set = deps.tokens?.jwks() ?? null;
      } catch (e) {
        if (!(e instanceof TalosError && e.id === "internal_server_error")) throw e;
      }
      if (!set || set.keys.length === 0) {
        // docs/derived-tokens.md#jwks quotes this message; it names no cause, unlike the internal errors docs/wire.md#error-envelope hides.
        const body = envelope("internal_server_error", "");
        body.error.message = "no active signing keys found";
        return json(500, body);
      }
      return json(200, set, { "Cache-Control": "public, max-age=300" });
    },
  };
}
