import type { RequestListener } from "node:http";
import { adminFastRoutes, createAdminApp } from "@talos/admin";
import { createPublicApp, publicRoutes } from "@talos/public";
import { createApp, createRequestListener, healthRoutes, type AppDeps, type RouteDef, type ShellDeps } from "@talos/http";
import { withConsole, type ConsoleApp } from "./console.js";

export type Mode = "all" | "admin" | "public";
export const MODES: readonly Mode[] = ["all", "admin", "public"];

/** The API listener's app for a mode (docs/server.md#processes-surfaces-and-ports). `all` serves every route of both surfaces. */
export function appFor(mode: Mode, deps: AppDeps, extra: RouteDef[] = []) {
  if (mode === "admin") return createAdminApp(deps, extra);
  if (mode === "public") return createPublicApp(deps);
  return createAdminApp(deps, [...publicRoutes(deps), ...extra]);
}

/** The API listener: the mode's app, with verification served ahead of Hono where the mode has it. */
export function listenerFor(mode: Mode, deps: AppDeps, hostname: string, consoleApp: ConsoleApp | null = null): RequestListener {
  const routes = mode === "public" ? [] : adminFastRoutes(deps);
  return createRequestListener(withConsole(mode, appFor(mode, deps), consoleApp), { fast: { routes, deps }, hostname });
}

/** The metrics listener: health probes and /metrics (a cluster primary's too, with its own deps). */
export function metricsApp(deps: ShellDeps & Pick<AppDeps, "ready" | "draining">, metricsRoute: RouteDef | null) {
  return createApp({ ...deps, observeRequest: undefined, inFlight: undefined }, [...healthRoutes(deps), ...(metricsRoute ? [metricsRoute] : [])]);
}
