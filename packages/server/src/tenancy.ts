import type { RequestListener } from "node:http";
import { isDeepStrictEqual } from "node:util";
import { NIL_NID, type Config, type Network } from "@talos/core";
import type { Mode } from "./apps.js";
import { hostRouter, type Routing } from "./host-router.js";
import { createNetworkMetrics } from "./network-metrics.js";
import { createNetworkStack, type NetworkObservers, type NetworkStack, type StackShared } from "./network-stack.js";

/** How long a replaced network stack keeps running for the requests it already took. */
const RETIRE_MS = 15_000;

/**
 * The networks a server serves (docs/multitenancy.md) and the routing between them. A reload
 * builds the stacks of new or changed networks, then swaps the routing in one assignment: requests
 * already inside a stack finish there, new ones see the new configuration.
 */
export interface Tenancy {
  /** the API listener of `mode`, routing each request by host (or to the nil network) */
  listener(mode: Mode): RequestListener;
  /** the target of cross-instance cache invalidations: every network's runtime */
  readonly invalidation: { readonly cache: { clear(): void }; applyInvalidation(raw: string): void; resync(): void };
  /** the current routing (tests, the reload log) */
  routing(): Routing;
  /** serves `config` and `networks` from now on; throws (keeping the old ones) when a stack cannot be built */
  apply(config: Config, networks: readonly Network[]): Promise<void>;
  close(): Promise<void>;
}

export async function createTenancy(config: Config, networks: readonly Network[], nil: NetworkStack, shared: StackShared): Promise<Tenancy> {
  let routing: Routing = { enabled: false, trustForwardedHost: false, nil, byHost: new Map() };
  const retiring = new Set<NodeJS.Timeout>();
  const retired = new Set<NetworkStack>();
  const stacks = (r: Routing) => [r.nil, ...r.byHost.values()];
  // registered on first use: a server without networks exposes no empty per-network metrics
  let labelled: ReturnType<typeof createNetworkMetrics> | null = null;
  const observersOf = (hostname: string) => (labelled ??= createNetworkMetrics(shared.metrics.registry)).forNetwork(hostname);

  async function apply(next: Config, list: readonly Network[]): Promise<void> {
    const old = routing;
    // a network keeps its stack (and warm cache) only under the same hostname: its metrics are labelled with it
    const byId = new Map([...old.byHost].map(([host, s]) => [`${s.nid} ${host}`, s]));
    const built: NetworkStack[] = [];
    const reuse = async (prev: NetworkStack | undefined, nid: string, c: Config, tenant: NetworkObservers | null) => {
      if (prev && isDeepStrictEqual(prev.config, c)) return prev;
      const s = await createNetworkStack(nid, c, shared, tenant);
      built.push(s);
      return s;
    };
    let nextRouting: Routing;
    try {
      const byHost = new Map<string, NetworkStack>();
      if (next.multitenancy.enabled)
        for (const n of list) byHost.set(n.hostname, await reuse(byId.get(`${n.id} ${n.hostname}`), n.id, n.config, observersOf(n.hostname)));
      const nilStack = await reuse(old.nil, NIL_NID, next, null);
      nextRouting = { enabled: next.multitenancy.enabled, trustForwardedHost: next.serve.http.trust_forwarded_host, nil: nilStack, byHost };
    } catch (e) {
      await Promise.all(built.map((s) => s.close().catch(() => {})));
      throw e;
    }
    routing = nextRouting;
    const kept = new Set(stacks(nextRouting));
    const gone = stacks(old).filter((s) => !kept.has(s));
    if (gone.length === 0) return;
    for (const s of gone) retired.add(s);
    const timer = setTimeout(() => {
      retiring.delete(timer);
      for (const s of gone) {
        retired.delete(s);
        void s.close().catch(() => {});
      }
    }, RETIRE_MS);
    timer.unref();
    retiring.add(timer);
  }

  await apply(config, networks);
  const listeners = new Map<Mode, RequestListener>();
  return {
    listener(mode) {
      let l = listeners.get(mode);
      if (!l) listeners.set(mode, (l = hostRouter(mode, () => routing)));
      return l;
    },
    invalidation: {
      cache: { clear: () => stacks(routing).forEach((s) => s.runtime.cache?.clear()) },
      applyInvalidation: (raw) => stacks(routing).forEach((s) => s.runtime.applyInvalidation(raw)),
      resync: () => stacks(routing).forEach((s) => s.runtime.resync()),
    },
    routing: () => routing,
    apply,
    async close() {
      for (const t of retiring) clearTimeout(t);
      retiring.clear();
      const all = new Set([...stacks(routing), ...retired]);
      await Promise.all([...all].map((s) => s.close().catch(() => {})));
    },
  };
}
