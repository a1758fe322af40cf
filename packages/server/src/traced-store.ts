import type { InvalidationMessage, Repo, Store, Tracer } from "@talos/core";

/**
 * The store with a span around every repository call and transaction (docs/observability.md#tracing).
 * Built only when tracing is on, so an untraced server calls the store directly. Spans carry the
 * operation's name, never its SQL or parameters (they may hold metadata a caller sent).
 */
export function tracedStore(store: Store, tracer: Tracer): Store {
  const system = store.driver === "postgres" ? "postgresql" : "pglite";
  const repo = tracedRepo(store.repo, tracer, system);
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "repo") return repo;
      if (prop === "transaction") {
        return <T>(fn: (r: Repo) => Promise<T>) =>
          tracer.run("talos.db.transaction", { "db.system.name": system }, () => target.transaction((tx) => fn(tracedRepo(tx, tracer, system))));
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

function tracedRepo(repo: Repo, tracer: Tracer, system: string): Repo {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(repo, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      let w = wrapped.get(prop);
      if (!w) {
        const name = String(prop);
        w = (...args: unknown[]) =>
          tracer.run(`talos.db.${name}`, { "db.system.name": system, "db.operation.name": name }, () =>
            (v as (...a: unknown[]) => Promise<unknown>).apply(target, args),
          );
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}

/** The Redis PUBLISH of a cache invalidation, in a span (the other Redis call, the shared rate limiter, is talos.verify.rate_limit). */
export function tracedPublish(publish: (msg: InvalidationMessage) => Promise<void>, tracer: Tracer) {
  return (msg: InvalidationMessage) =>
    tracer.run("talos.redis.publish", { "db.system.name": "redis", "db.operation.name": "PUBLISH" }, () => publish(msg));
}
