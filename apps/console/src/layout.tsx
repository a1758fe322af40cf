import type { Child } from "hono/jsx";
import { can, type ConsolePrincipal } from "./auth.js";

export interface PageInfo {
  title: string;
  principal: ConsolePrincipal;
  /** the CSRF token every form carries */
  csrf: string;
  /** sign-in required (admin authentication on): shows who is signed in and a sign-out button */
  authOn: boolean;
  /** the nav entry to mark as current */
  section?: "overview" | "keys" | "issue" | "tools" | "sign-in";
}

export const BASE = "/console";

/** The hidden CSRF field of every form. */
export const Csrf = ({ token }: { token: string }) => <input type="hidden" name="_csrf" value={token} />;

function Nav({ info }: { info: PageInfo }) {
  const item = (id: PageInfo["section"], href: string, label: string) => (
    <li>
      <a href={href} aria-current={info.section === id ? "page" : undefined}>
        {label}
      </a>
    </li>
  );
  const p = info.principal;
  return (
    <nav aria-label="Console">
      <ul>
        {item("overview", BASE, "Overview")}
        {can(p, "keys:read") && item("keys", `${BASE}/keys`, "Keys")}
        {can(p, "keys:write") && item("issue", `${BASE}/keys/new`, "Issue or import")}
        {(can(p, "keys:verify") || can(p, "tokens:derive")) && item("tools", `${BASE}/tools`, "Verify and derive")}
      </ul>
    </nav>
  );
}

/** The page shell: header, navigation, the no-authentication warning, main content. */
export function Layout({ info, children }: { info: PageInfo; children: Child }) {
  const signedIn = info.authOn && info.principal.subject !== "";
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        {/* htmx must not inject its indicator <style>: the CSP allows no inline style */}
        <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"historyCacheSize":0}' />
        <title>{`${info.title} · Talos console`}</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={`${BASE}/static/console.css`} />
        <script src={`${BASE}/static/htmx.min.js`} defer />
        <script src={`${BASE}/static/console.js`} defer />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <a class="brand" href={BASE}>
            Talos console
          </a>
          {info.section !== "sign-in" && <Nav info={info} />}
          {signedIn && (
            <form method="post" action={`${BASE}/sign-out`} class="signout">
              <Csrf token={info.csrf} />
              <span>
                Signed in as <strong>{info.principal.subject}</strong>
              </span>{" "}
              <button type="submit">Sign out</button>
            </form>
          )}
        </header>
        {!info.authOn && (
          <p class="banner warn" role="alert">
            No authentication: the admin API has no built-in authentication: expose it only on a private network. Anyone who can reach
            this address can manage every key.
          </p>
        )}
        <main id="main">
          <h1>{info.title}</h1>
          {children}
        </main>
      </body>
    </html>
  );
}
