import { TalosError } from "@talos/core";
import type { AppDeps } from "./deps.js";
import { json } from "./body.js";
import { errorResponse } from "./errors.js";
import type { RouteDef } from "./router.js";
import { ErrorEnvelope, JsonWebKeySet, Status, Version } from "./schemas/responses.js";

/** /health/alive, /health/ready (SPEC.md §16). Also served on the metrics listener. */
export function healthRoutes(deps: AppDeps): RouteDef[] {
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
        if (deps.draining()) return errorResponse(new TalosError("service_unavailable", "shutting down"));
        try {
          await deps.ready();
        } catch (e) {
          const message = e instanceof TalosError ? e.message : "the database is unavailable";
          return errorResponse(new TalosError("service_unavailable", message));
        }
        return json(200, { status: "ok" });
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

/** SPEC.md §10.4: the bare RFC 7517 key set, public members only. */
export function jwksRoute(deps: AppDeps): RouteDef {
  return {
    method: "GET",
    path: "/v2alpha1/derivedKeys/jwks.json",
    operationId: "getJwks",
    summary: "Public keys that verify derived JWTs",
    tags: ["ApiKeys"],
    responses: { 200: { description: "JWK Set", schema: JsonWebKeySet }, 500: { description: "No signing key", schema: ErrorEnvelope } },
    handler: () => {
      if (!deps.tokens) throw new TalosError("internal_server_error", "no active signing keys found");
      return json(200, deps.tokens.jwks(), { "Cache-Control": "public, max-age=300" });
    },
  };
}
