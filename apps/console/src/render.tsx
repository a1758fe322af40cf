import type { Child } from "hono/jsx";
import { isTalosError, type TalosError } from "@talos/core";
import { ERROR_STATUS } from "@talos/http";
import type { Permission } from "./auth.js";
import type { ConsoleState, Ctx } from "./context.js";
import { Layout, type PageInfo } from "./layout.js";

/** No inline script or style, nothing from another origin; forms post only to the console. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function authOn(s: ConsoleState): boolean {
  return s.deps.auth?.required === true;
}

export function secure(s: ConsoleState, c: Ctx): boolean {
  return s.deps.secureCookies === true || new URL(c.req.url).protocol === "https:";
}

/** Renders a full page with the shell; every page is `no-store` (one-time secrets must never be cached). */
export function page(s: ConsoleState, c: Ctx, title: string, section: PageInfo["section"], body: Child, status = 200) {
  const info: PageInfo = { title, section, principal: c.get("principal"), csrf: c.get("csrf"), authOn: authOn(s) };
  return c.html(`<!doctype html>${(<Layout info={info}>{body}</Layout>).toString()}`, status as 200);
}

/** The status a core error maps to (the API's table), for a page that shows its message. */
export function statusOf(e: TalosError): number {
  return ERROR_STATUS[e.id]?.[0] ?? 500;
}

/** The message a form shows for a failed verb: the API's message, except for internal errors. */
export function problemOf(s: ConsoleState, c: Ctx, e: unknown): { status: number; message: string } {
  if (isTalosError(e) && e.id !== "internal_server_error") return { status: statusOf(e), message: e.message };
  if (isTalosError(e) && e.name === "ConfigurationError") return { status: 500, message: e.message };
  s.deps.app.logger.error({ err: e instanceof Error ? e.name : "unknown", path: c.req.path }, "console action failed");
  return { status: 500, message: "An internal server error occurred." };
}

/** Refuses a request whose principal lacks `permission` (a 403 page); null when allowed. */
export function forbidden(s: ConsoleState, c: Ctx, permission: Permission) {
  const p = c.get("principal");
  if (p.permissions.includes(permission) || p.permissions.includes("admin")) return null;
  return page(s, c, "Not allowed", undefined, <p role="alert">Your sign-in lacks the permission {permission}.</p>, 403);
}

