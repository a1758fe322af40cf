import type { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { authOn, page, secure } from "../render.js";
import { sealSession, SESSION_COOKIE } from "../auth.js";
import type { ConsoleEnv, ConsoleState, Ctx } from "../context.js";
import { text } from "../forms.js";
import { BASE, Csrf } from "../layout.js";

const DEFAULT_TTL_MS = 30 * 60_000;

/** Only a console path is a place to return to after sign-in (no open redirect). */
function safeNext(v: string | undefined): string {
  return v?.startsWith(BASE) && !v.startsWith("//") && !v.includes("\\") && !/[\r\n]/.test(v) ? v : BASE;
}

function SignInForm({ csrf, next, error }: { csrf: string; next: string; error?: string }) {
  return (
    <form method="post" action={`${BASE}/sign-in`} class="card narrow">
      <Csrf token={csrf} />
      <input type="hidden" name="next" value={next} />
      {error && (
        <p class="error" role="alert" id="signin-error">
          {error}
        </p>
      )}
      <label for="token">Admin token or identity-provider JWT</label>
      <input id="token" name="token" type="password" autocomplete="off" required aria-describedby={error ? "signin-error" : undefined} />
      <button type="submit">Sign in</button>
    </form>
  );
}

export function signInRoutes(app: Hono<ConsoleEnv>, s: ConsoleState): void {
  const show = (c: Ctx, next: string, error?: string, status = 200) =>
    page(s, c, "Sign in", "sign-in", <SignInForm csrf={c.get("csrf")} next={next} error={error} />, status);

  app.get(`${BASE}/sign-in`, (c) => (authOn(s) ? show(c, safeNext(c.req.query("next"))) : c.redirect(BASE, 303)));

  app.post(`${BASE}/sign-in`, async (c) => {
    const auth = s.deps.auth;
    if (!auth?.required) return c.redirect(BASE, 303);
    const form = c.get("form");
    const next = safeNext(text(form, "next"));
    const token = text(form, "token");
    const remoteAddress = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
    const principal = token ? await auth.authenticate(token, { header: (n) => c.req.header(n), remoteAddress }) : null;
    if (principal === "throttled") return show(c, next, "Too many failed sign-ins from this address: try again in a minute.", 429);
    if (!principal) return show(c, next, "Sign-in failed: the token was not accepted.", 401);
    const ttl = s.deps.sessionTtlMs ?? DEFAULT_TTL_MS;
    const expires = s.deps.app.ctx.clock() + ttl;
    setCookie(c, SESSION_COOKIE, sealSession(s.keys, principal, expires), {
      path: BASE,
      httpOnly: true,
      sameSite: "Strict",
      secure: secure(s, c),
      maxAge: Math.floor(ttl / 1000),
    });
    return c.redirect(next, 303);
  });

  app.post(`${BASE}/sign-out`, (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: BASE, secure: secure(s, c) });
    return c.redirect(`${BASE}/sign-in`, 303);
  });
}
