import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { getCookie, setCookie, deleteCookie } from "hono/cookie";
import { createPathRedactor, hasDotSegment, MAX_BODY_BYTES, requestIdFor, type RouteDef } from "@talos/http";
import { ANONYMOUS, consoleKeys, csrfToken, csrfValid, CSRF_COOKIE, newCsrfSeed, openSession, SESSION_COOKIE } from "./auth.js";
import { BatchJobs } from "./batch-jobs.js";
import type { ConsoleDeps, ConsoleEnv, ConsoleState } from "./context.js";
import { BASE } from "./layout.js";
import { authOn, CONSOLE_CSP, page, problemOf, secure } from "./render.js";
import { MetricsSampler } from "./sampler.js";
import { staticRoutes } from "./static.js";
import { signInRoutes } from "./pages/sign-in.js";
import { keyListRoutes } from "./pages/keys.js";
import { keyDetailRoutes } from "./pages/key.js";
import { issueRoutes } from "./pages/issue.js";
import { batchRoutes } from "./pages/batch.js";
import { toolRoutes } from "./pages/tools.js";
import { overviewRoutes } from "./pages/overview.js";

export { CONSOLE_CSP };

const PUBLIC_PATHS = new Set([`${BASE}/sign-in`]);

/** The console's path words, so the request log keeps them and shows any other segment (a job id, a pasted secret) as `*`. */
const LOG_PATHS = [
  "/console/keys/new/import/batch/progress/sign-in/sign-out/tools/verify/derive",
  "/console/keys/issued/imported/update/rotate/revoke/delete",
  "/console/static/htmx.min.js/console.js/console.css",
].map((path) => ({ path }) as RouteDef);

/**
 * The admin console (docs/console.md): a Hono app serving /console on the admin surface. It calls
 * the core verbs directly, like the API routes do.
 */
export function createConsoleApp(deps: ConsoleDeps): Hono<ConsoleEnv> & { close(): void } {
  const ctx = deps.app.ctx;
  const sampler = deps.metrics ? new MetricsSampler(deps.metrics, () => ctx.clock()) : null;
  sampler?.start();
  const s: ConsoleState = { deps, keys: consoleKeys(ctx.config.secrets.hmac.current), sampler, jobs: new BatchJobs() };
  const app = new Hono<ConsoleEnv>();

  const logPath = createPathRedactor(LOG_PATHS);
  app.use(async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFor(c.req.header("x-request-id"));
    await next();
    const h = c.res.headers;
    h.set("X-Request-ID", requestId);
    h.set("Content-Security-Policy", CONSOLE_CSP);
    h.set("X-Frame-Options", "DENY");
    h.set("X-Content-Type-Options", "nosniff");
    h.set("Referrer-Policy", "same-origin");
    if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
    // the request log and the HTTP metrics, as for the API (one route label for the whole console)
    deps.app.observeRequest?.({
      method: c.req.method,
      route: BASE,
      path: logPath(c.req.path),
      status: c.res.status,
      durationMs: performance.now() - started,
      requestId,
      bytesIn: Number(c.req.header("content-length") ?? 0),
      bytesOut: Number(h.get("content-length") ?? 0),
    });
  });
  app.use((c, next) => {
    const target = (c.env as { incoming?: { url?: string } } | undefined)?.incoming?.url;
    if (target !== undefined && hasDotSegment(target)) return Promise.resolve(c.text("request path has a '.' or '..' segment", 400));
    return next();
  });
  app.use(bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.text(`request body exceeds ${MAX_BODY_BYTES} bytes`, 413) }));
  staticRoutes(app);

  // CSRF: a random HttpOnly cookie; every form carries an HMAC of it, checked on every POST
  app.use(async (c, next) => {
    let seed = getCookie(c, CSRF_COOKIE);
    if (!seed || seed.length > 100) {
      seed = newCsrfSeed();
      setCookie(c, CSRF_COOKIE, seed, { path: BASE, httpOnly: true, sameSite: "Strict", secure: secure(s, c) });
    }
    c.set("csrf", csrfToken(s.keys, seed));
    c.set("principal", ANONYMOUS);
    c.set("form", {});
    if (c.req.method === "POST") {
      const form = (await c.req.parseBody({ all: false }).catch(() => ({}))) as Record<string, unknown>;
      c.set("form", form);
      if (!csrfValid(s.keys, getCookie(c, CSRF_COOKIE), form._csrf)) {
        return page(s, c, "Form expired", undefined, <p role="alert">The form's CSRF token is missing or invalid. Reload the page and try again.</p>, 403);
      }
    }
    return next();
  });

  // sign-in: a signed session cookie when admin authentication is on
  app.use(async (c, next) => {
    if (!authOn(s) || PUBLIC_PATHS.has(c.req.path)) return next();
    const p = openSession(s.keys, getCookie(c, SESSION_COOKIE), ctx.clock());
    if (!p) {
      deleteCookie(c, SESSION_COOKIE, { path: BASE });
      const next_ = c.req.method === "GET" ? c.req.path + (new URL(c.req.url).search || "") : BASE;
      return c.redirect(`${BASE}/sign-in?next=${encodeURIComponent(next_)}`, 303);
    }
    c.set("principal", p);
    return next();
  });

  signInRoutes(app, s);
  overviewRoutes(app, s);
  keyListRoutes(app, s);
  issueRoutes(app, s);
  batchRoutes(app, s);
  keyDetailRoutes(app, s);
  toolRoutes(app, s);
  app.notFound((c) => page(s, c, "Not found", undefined, <p>There is no console page at this address.</p>, 404));
  app.onError((e, c) => {
    const p = problemOf(s, c, e);
    return page(s, c, "Error", undefined, <p role="alert">{p.message}</p>, p.status);
  });
  return Object.assign(app, { close: () => sampler?.stop() });
}
