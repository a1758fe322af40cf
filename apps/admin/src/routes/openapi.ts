import { buildOpenApi, json, type RouteDef } from "@talos/http";

/** GET /openapi.json: built once, from the routes actually served. */
export function openApiRoute(routes: RouteDef[], version: string): RouteDef {
  let doc: unknown;
  return {
    method: "GET",
    path: "/openapi.json",
    summary: "This document",
    tags: ["meta"],
    responses: { 200: { description: "OpenAPI 3.1 document" } },
    handler: () => json(200, (doc ??= buildOpenApi(routes, version))),
  };
}
