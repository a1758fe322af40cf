import type { Context } from "hono";
import type { ZodType } from "zod";
import { TalosError } from "@talos/core";
import { errorResponse } from "./respond.js";

export type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** Per-request variables set by the shared middleware and the dispatcher. */
export type AppEnv = { Variables: { requestId: string; route: string } };
export type Ctx = Context<AppEnv>;

/** One operation: the handler plus what the OpenAPI document says about it. */
export interface RouteDef {
  method: Method;
  /** template: literal segments, `{name}` parameters, optionally followed by a literal (`{key_id}:rotate`) */
  path: string;
  operationId?: string;
  summary?: string;
  tags?: string[];
  body?: ZodType;
  query?: Record<string, string>;
  responses: Record<number, { description: string; schema?: ZodType; headers?: Record<string, string> }>;
  handler: (c: Ctx, params: Record<string, string>) => Promise<Response> | Response;
}

interface Compiled {
  route: RouteDef;
  segments: ({ literal: string } | { param: string; suffix: string })[];
  /** literal characters: more literal text = more specific */
  weight: number;
}

function compile(route: RouteDef): Compiled {
  let weight = 0;
  const segments = route.path
    .split("/")
    .slice(1)
    .map((s) => {
      const m = /^\{([a-z_.]+)\}(.*)$/.exec(s);
      if (!m) {
        weight += s.length + 1000;
        return { literal: s };
      }
      weight += m[2]!.length;
      return { param: m[1]!, suffix: m[2]! };
    });
  return { route, segments, weight };
}

function matchSegments(c: Compiled, parts: string[]): Record<string, string> | null {
  if (c.segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = c.segments[i]!;
    const part = parts[i]!;
    if ("literal" in seg) {
      if (seg.literal !== part) return null;
    } else {
      if (part.length <= seg.suffix.length || !part.endsWith(seg.suffix)) return null;
      params[seg.param] = part.slice(0, part.length - seg.suffix.length);
    }
  }
  return params;
}

/** Percent-decodes each segment (docs/wire.md#paths-and-query-strings); a decoded "/" never joins two segments. */
function splitPath(rawPath: string): string[] | null {
  const parts = rawPath.split("/").slice(1);
  if (!rawPath.includes("%")) return parts;
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    return null;
  }
}

/**
 * Exact, case-sensitive matching with no trailing-slash tolerance; the most specific template
 * wins; a known path with the wrong method gets 405 and Allow. HEAD is served as GET.
 */
export function createDispatcher(routes: RouteDef[]) {
  const staticRoutes = new Map<string, Map<string, RouteDef>>();
  const dynamic: Compiled[] = [];
  for (const r of routes) {
    if (r.path.includes("{")) dynamic.push(compile(r));
    else {
      const byMethod = staticRoutes.get(r.path) ?? new Map<string, RouteDef>();
      if (!byMethod.has(r.method)) byMethod.set(r.method, r);
      staticRoutes.set(r.path, byMethod);
    }
  }
  dynamic.sort((a, b) => b.weight - a.weight);

  const methodNotAllowed = (allowed: Iterable<string>) => {
    const allow = [...new Set(allowed)];
    if (allow.includes("GET")) allow.push("HEAD");
    return errorResponse(new TalosError("method_not_allowed", "method not allowed"), { Allow: allow.join(", ") });
  };
  const notFound = () => errorResponse(new TalosError("not_found", "route not found"));

  const runStatic = (c: Ctx, method: string, byMethod: Map<string, RouteDef>) => {
    const r = byMethod.get(method);
    if (!r) return methodNotAllowed(byMethod.keys());
    c.set("route", r.path);
    return r.handler(c, {});
  };

  return async (c: Ctx): Promise<Response> => {
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    const rawPath = c.req.path;
    // Without percent-encoding the path is its own split-and-joined form: no split on the hot path.
    const direct = rawPath.includes("%") ? undefined : staticRoutes.get(rawPath);
    if (direct) return runStatic(c, method, direct);
    const parts = splitPath(rawPath);
    if (!parts || parts.some((p) => p.includes("/"))) return notFound();
    const byMethod = staticRoutes.get(`/${parts.join("/")}`);
    if (byMethod) return runStatic(c, method, byMethod);
    let bestWeight = -1;
    const allowed: string[] = [];
    for (const d of dynamic) {
      if (d.weight < bestWeight) break;
      const params = matchSegments(d, parts);
      if (!params) continue;
      bestWeight = d.weight;
      if (d.route.method === method) {
        c.set("route", d.route.path);
        return d.route.handler(c, params);
      }
      allowed.push(d.route.method);
    }
    return allowed.length ? methodNotAllowed(allowed) : notFound();
  };
}
