import { z, type ZodType } from "zod";
import type { RouteDef } from "./router.js";

type JsonSchema = Record<string, unknown>;
const REF = (id: string) => `#/components/schemas/${id}`;

function idOf(schema: ZodType): string | undefined {
  return (z.globalRegistry.get(schema) as { id?: string } | undefined)?.id;
}

/** Registered schemas become components; others are inlined with refs to the components. */
function schemaRef(schema: ZodType, io: "input" | "output"): JsonSchema {
  const id = idOf(schema);
  if (id) return { $ref: REF(id) };
  const js = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  delete js.$schema;
  return js;
}

/**
 * How the document declares admin authentication (serve.admin_auth). Absent when the mode is none,
 * so the document stays exactly the reference-compatible one.
 */
export interface OpenApiSecurity {
  /** components.securitySchemes */
  schemes: Record<string, JsonSchema>;
  /** the operation's alternatives (any one suffices) and the permission it needs; null: no credential needed */
  operation(route: RouteDef): { requirement: Record<string, string[]>[]; permission: string } | null;
}

/**
 * OpenAPI 3.1 document generated from the route table and the same zod schemas that
 * validate requests: request bodies as their input shape, responses as their output shape.
 */
export function buildOpenApi(routes: RouteDef[], version: string, security?: OpenApiSecurity): JsonSchema {
  const registryIn = z.toJSONSchema(z.globalRegistry, { io: "input", unrepresentable: "any", uri: REF }) as { schemas: Record<string, JsonSchema> };
  const registryOut = z.toJSONSchema(z.globalRegistry, { io: "output", unrepresentable: "any", uri: REF }) as { schemas: Record<string, JsonSchema> };
  const requestIds = new Set(routes.flatMap((r) => (r.body && idOf(r.body) ? [idOf(r.body)!] : [])));
  const schemas: Record<string, JsonSchema> = {};
  for (const [id, s] of Object.entries(registryOut.schemas)) schemas[id] = s;
  for (const id of requestIds) if (registryIn.schemas[id]) schemas[id] = registryIn.schemas[id]!;
  for (const s of Object.values(schemas)) delete s.$schema;

  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{([a-z_.]+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    const query = Object.entries(r.query ?? {}).map(([name, description]) => ({ name, in: "query", required: false, description, schema: { type: "string" } }));
    const responses: Record<string, unknown> = {};
    for (const [code, resp] of Object.entries(r.responses)) {
      responses[code] = {
        description: resp.description,
        ...(resp.schema ? { content: { "application/json": { schema: schemaRef(resp.schema, "output") } } } : {}),
        ...(resp.headers
          ? { headers: Object.fromEntries(Object.entries(resp.headers).map(([h, d]) => [h, { description: d, schema: { type: "string" } }])) }
          : {}),
      };
    }
    const guarded = security?.operation(r) ?? null;
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      ...(r.operationId ? { operationId: r.operationId } : {}),
      summary: r.summary,
      ...(guarded ? { description: `Needs the \`${guarded.permission}\` admin permission (or \`admin\`).` } : {}),
      tags: r.tags,
      parameters: [...params, ...query],
      ...(r.body ? { requestBody: { required: false, content: { "application/json": { schema: schemaRef(r.body, "input") } } } } : {}),
      responses,
      ...(guarded ? { security: guarded.requirement, "x-talos-permission": guarded.permission } : {}),
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Talos for TypeScript",
      version,
      description: security
        ? "Ory Talos compatible API key server. The admin API needs a credential (serve.admin_auth): each operation's security requirement names the schemes and the permission."
        : "Ory Talos compatible API key server. The admin API has no built-in authentication: keep it on a private network.",
    },
    paths,
    components: security ? { schemas, securitySchemes: security.schemes } : { schemas },
  };
}
