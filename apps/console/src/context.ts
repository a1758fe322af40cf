import type { Context } from "hono";
import type { AppDeps } from "@talos/http";
import type { ConsoleAuthenticator, ConsoleKeys, ConsolePrincipal } from "./auth.js";
import type { BatchJobs } from "./batch-jobs.js";
import type { MetricsSampler } from "./sampler.js";

/** What the console is built with: the API's dependencies (core verbs, verifier, token service) and its own parts. */
export interface ConsoleDeps {
  readonly app: AppDeps;
  /** admin authentication; absent or not required: no sign-in, and a warning on every page */
  readonly auth?: ConsoleAuthenticator;
  /** the process's metrics registry as JSON (prom-client getMetricsAsJSON), for the overview charts */
  readonly metrics?: () => Promise<import("./sampler.js").MetricJson[]>;
  /** session lifetime; default 30 minutes */
  readonly sessionTtlMs?: number;
  /** mark cookies Secure even over plain HTTP (a TLS-terminating proxy in front) */
  readonly secureCookies?: boolean;
}

export interface ConsoleState {
  readonly deps: ConsoleDeps;
  readonly keys: ConsoleKeys;
  readonly sampler: MetricsSampler | null;
  readonly jobs: BatchJobs;
}

export type ConsoleEnv = {
  Variables: { principal: ConsolePrincipal; csrf: string; form: Record<string, unknown> };
};
export type Ctx = Context<ConsoleEnv>;
