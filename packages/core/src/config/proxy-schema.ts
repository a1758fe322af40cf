/** The `proxy` section (docs/proxy.md): `talos proxy` reads only this section, `talos serve` ignores it. */
import { z } from "zod";
import {
  EMPTY,
  boolSchema,
  durationSchema,
  enumSchema,
  intSchema,
  leaf,
  mapping,
  nonEmptyString,
  redisAddrSchema,
  stringList,
  stringSchema,
} from "./fields.js";

const LISTEN = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]*):\d{1,5}$/;
const listenSchema = () => stringSchema().regex(LISTEN, { error: 'must be "[host]:port", such as ":8080" or "127.0.0.1:8080"' });
const urlSchema = () =>
  stringSchema().refine((s) => /^https?:\/\/[^\s/]+/.test(s) && URL.canParse(s), { error: "must be an http:// or https:// URL" });

export const CREDENTIAL_SOURCES = ["bearer", "x-api-key", "query", "cookie"] as const;
export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

const routeSchema = mapping({
  path_prefix: nonEmptyString().refine((s) => s.startsWith("/"), { error: 'must start with "/"' }),
  methods: z.array(enumSchema(HTTP_METHODS), { error: "must be a list of HTTP methods" }).prefault([]),
  scopes_any: stringList().prefault([]),
  scopes_all: stringList().prefault([]),
});

function section<T extends z.core.$ZodLooseShape>(shape: T) {
  return mapping(shape).prefault(EMPTY);
}

export const proxySchema = section({
  mode: leaf(
    "enum",
    enumSchema(["sidecar", "gateway"])
      .prefault("sidecar")
      .describe(
        "sidecar: cache apiKeys:verify in front of the central Talos (upstream); gateway: require a Talos key for every request to the upstream app.",
      ),
  ),
  upstream: leaf(
    "string",
    urlSchema()
      .optional()
      .describe("Where requests go: the central Talos admin URL (sidecar) or the protected app (gateway). Required by talos proxy."),
  ),
  talos: leaf(
    "string",
    urlSchema()
      .optional()
      .describe("Gateway mode: the central Talos admin URL that verifies keys and streams invalidations. Required in gateway mode."),
  ),
  talos_authorization: leaf(
    "string",
    stringSchema()
      .prefault("")
      .describe(
        "Authorization header value the proxy sends on its own calls to the central Talos (the invalidation stream; gateway-mode verifies), for an admin API behind authentication. Sidecar verifies and pass-through requests carry the client's own header. Never logged.",
      ),
  ),
  listen: leaf("string", listenSchema().prefault(":8080").describe("Address the proxy listens on, [host]:port.")),
  metrics_listen: leaf("string", listenSchema().prefault(":8081").describe("Address of the health and /metrics listener, [host]:port.")),
  cache_ttl: leaf(
    "duration",
    durationSchema({ min: 0 })
      .prefault("60s")
      .describe("How long a valid verify answer is cached (never beyond the key's expiry); 0 disables the cache."),
  ),
  cache_max_size: leaf(
    "int",
    intSchema(0)
      .prefault(100 * 1024 * 1024)
      .describe("Most bytes of cached verify answers (LRU beyond it)."),
  ),
  trust_x_forwarded_host: leaf("bool", boolSchema().prefault(false).describe("Take the tenant host from X-Forwarded-Host instead of Host.")),
  allowed_hosts: leaf(
    "string[]",
    stringList().prefault([]).describe("Hosts the proxy answers; others get 403 (health and metrics are exempt). Empty allows every host."),
  ),
  invalidation: leaf(
    "enum",
    enumSchema(["stream", "redis", "none"])
      .prefault("stream")
      .describe(
        "How revocations reach the cache at once: stream (the central server's cacheInvalidations:stream), redis (its Redis pub/sub; needs proxy.redis.addrs) or none (bounded by cache_ttl).",
      ),
  ),
  redis: section({
    addrs: leaf(
      "string[]",
      stringList(redisAddrSchema())
        .prefault([])
        .describe("The central servers' Redis as host:port: rate limits are spent on cache hits (and invalidation redis listens there)."),
    ),
    password: leaf("string", stringSchema().prefault("").describe("Redis password.")),
    db: leaf("int", intSchema(0).prefault(0).describe("Redis database number (the central servers' one).")),
  }),
  gateway: section({
    credential_sources: leaf(
      "string[]",
      z
        .array(enumSchema(CREDENTIAL_SOURCES), { error: "must be a list of credential sources" })
        .prefault(["bearer", "x-api-key"])
        .describe("Where gateway mode looks for the key, in order: bearer, x-api-key, query, cookie."),
    ),
    query_param: leaf("string", nonEmptyString().prefault("api_key").describe("Query parameter of the query source.")),
    cookie_name: leaf("string", nonEmptyString().prefault("talos_api_key").describe("Cookie of the cookie source.")),
    strip_credential: leaf("bool", boolSchema().prefault(true).describe("Remove the credential before forwarding to the app.")),
  }),
  routes: leaf(
    "object[]",
    z
      .array(routeSchema, { error: "must be a list of route mappings" })
      .prefault([])
      .describe(
        "Gateway scope rules: [{path_prefix, methods, scopes_any, scopes_all}]; the longest matching prefix applies, a missing scope is 403.",
      ),
  ),
});
