import { hashAdminToken, loadConfig } from "@talos/core";
import type { ConsoleAuthenticator } from "@talos/console";
import type { Logger } from "@talos/http";
import { createServer, type Mode, type TalosServer } from "@talos/server";
import { TEST_ISSUER, TEST_SECRET } from "../support/harness.js";

/** Admin tokens of the in-test authenticator: token -> principal. */
export const TOKENS: Record<string, { subject: string; permissions: string[] }> = {
  "admin-token-0123456789": { subject: "alice", permissions: ["admin"] },
  "reader-token-0123456789": { subject: "rita", permissions: ["keys:read"] },
  "auditor-token-0123456789": { subject: "audrey", permissions: ["keys:read", "events:read"] },
};

/** The real admin authentication (serve.admin_auth, mode tokens) holding TOKENS: the console's sign-in goes through it. */
export const adminAuthOverrides = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  "serve.admin_auth.mode": "tokens",
  "serve.admin_auth.tokens": Object.entries(TOKENS).map(([token, p]) => ({ name: p.subject, hash: hashAdminToken(token), permissions: p.permissions })),
  ...extra,
});

/** Every log line the server wrote, as JSON text (to check that no secret reaches the log). */
export function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (obj: object, msg?: string) => lines.push(JSON.stringify({ ...obj, msg }));
  return { lines, debug: write, info: write, warn: write, error: write } as Logger & { lines: string[] };
}

export interface ConsoleServer {
  built: TalosServer;
  base: string;
  logger: ReturnType<typeof capturingLogger>;
  close(): Promise<void>;
}

/** A real server (createServer) listening on a free port, with the console on its admin surface. */
export async function startConsoleServer(opts: { auth?: ConsoleAuthenticator; mode?: Mode; overrides?: Record<string, unknown> } = {}): Promise<ConsoleServer> {
  const { config } = loadConfig({
    env: {},
    overrides: {
      "db.dsn": "memory",
      "secrets.hmac.current": TEST_SECRET,
      "credentials.issuer": TEST_ISSUER,
      "last_used.flush_interval": "100ms",
      ...opts.overrides,
    },
  });
  const logger = capturingLogger();
  const built = await createServer(config, { logger, migrate: true, consoleAuth: opts.auth, requestLog: (line) => logger.lines.push(JSON.stringify(line)) });
  const l = await built.listen(opts.mode ?? "all", { host: "127.0.0.1", port: 0 });
  return { built, base: `http://127.0.0.1:${l.port}`, logger, close: () => built.close() };
}

/** A fetch client with a cookie jar (what a browser does), for the HTTP-level tests. */
export function client(base: string) {
  const jar = new Map<string, string>();
  const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const setCookies: string[] = [];
  async function go(path: string, init: RequestInit = {}) {
    const res = await fetch(base + path, { ...init, redirect: "manual", headers: { ...(init.headers as Record<string, string>), cookie: cookies() } });
    for (const c of res.headers.getSetCookie()) {
      setCookies.push(c);
      const [pair] = c.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === "" || /max-age=0/i.test(c)) jar.delete(name);
      else jar.set(name, value);
    }
    return { res, text: await res.text() };
  }
  return {
    jar,
    setCookies,
    get: (path: string) => go(path),
    /** posts a form; `csrf` true reads the token from the last page of `from` */
    post: (path: string, fields: Record<string, string>) => go(path, { method: "POST", body: new URLSearchParams(fields) }),
    postMultipart: (path: string, form: FormData) => go(path, { method: "POST", body: form }),
  };
}

/** The CSRF token of a console page. */
export function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no CSRF field on the page");
  return m[1]!;
}
