import { Hono } from "hono";
import { CHARTED_METRICS, createConsoleApp, type ConsoleAuthenticator, type MetricJson } from "@talos/console";
import type { Config } from "@talos/core";
import { isRefusal, type AdminGuard, type AppDeps, type AppEnv, type Metrics } from "@talos/http";

export type ConsoleApp = ReturnType<typeof createConsoleApp>;

/** The admin console (serve.console.enabled), or null when it is off. */
export function consoleFor(config: Config, deps: AppDeps, metrics: Metrics, auth?: ConsoleAuthenticator): ConsoleApp | null {
  if (!config.serve.console.enabled) return null;
  const signIn = auth ?? (deps.adminGuard ? guardSignIn(deps.adminGuard) : undefined);
  // only the charted counters: the sampler reads every 10 s, and the whole registry would run the
  // readiness and outbox collectors: database round trips each time, on the event loop with PGlite
  const charted = async (): Promise<MetricJson[]> => {
    const read = await Promise.all(CHARTED_METRICS.map((name) => metrics.registry.getSingleMetric(name)?.get()));
    return read.filter((m) => m !== undefined) as MetricJson[];
  };
  return createConsoleApp({ app: deps, auth: signIn, metrics: charted });
}

/**
 * The console's sign-in on serve.admin_auth (docs/console.md#security, "Sign-in"): the pasted admin token or IdP
 * JWT goes through the same guard as an API call, failures throttled per client IP alike.
 */
export function guardSignIn(guard: AdminGuard): ConsoleAuthenticator {
  return {
    required: true,
    async authenticate(token, client) {
      const out = await guard.signIn({
        header: (n) => (n === "authorization" ? `Bearer ${token}` : n === "talos-admin-authorization" ? undefined : client.header(n)),
        remoteAddress: client.remoteAddress,
      });
      if (!isRefusal(out)) return { subject: out.name, permissions: [...out.permissions] };
      return out.status === 429 ? "throttled" : null;
    },
  };
}

/** The API app with /console routed to the console: on the admin surface (modes all and admin), never on the public one. */
export function withConsole<A extends Hono<AppEnv>>(mode: "all" | "admin" | "public", api: A, consoleApp: ConsoleApp | null): A {
  if (!consoleApp || mode === "public") return api;
  // one handler and a prefix test: the API's requests pay for no second router
  const outer = new Hono<AppEnv>();
  outer.all("*", (c) => {
    const path = c.req.path;
    const toConsole = path === "/console" || path.startsWith("/console/");
    return (toConsole ? consoleApp : api).fetch(c.req.raw, c.env);
  });
  return outer as A;
}
