import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Hono } from "hono";
import type { ConsoleEnv } from "./context.js";
import { BASE } from "./layout.js";

interface Asset {
  body: string;
  type: string;
  etag: string;
}

function asset(path: string, type: string): Asset {
  const body = readFileSync(path, "utf8");
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"` };
}

/** htmx from its npm package (no CDN, no bundler); the console's own stylesheet and script beside src/. */
function loadAssets(): Map<string, Asset> {
  const own = (name: string) => new URL(`../static/${name}`, import.meta.url).pathname;
  return new Map([
    ["htmx.min.js", asset(createRequire(import.meta.url).resolve("htmx.org/dist/htmx.min.js"), "text/javascript; charset=utf-8")],
    ["console.js", asset(own("console.js"), "text/javascript; charset=utf-8")],
    ["console.css", asset(own("console.css"), "text/css; charset=utf-8")],
  ]);
}

export function staticRoutes(app: Hono<ConsoleEnv>): void {
  let assets: Map<string, Asset> | undefined;
  app.get(`${BASE}/static/:name`, (c) => {
    assets ??= loadAssets();
    const a = assets.get(c.req.param("name"));
    if (!a) return c.text("not found", 404);
    const headers = { "Content-Type": a.type, ETag: a.etag, "Cache-Control": "public, max-age=300" };
    if (c.req.header("if-none-match") === a.etag) return c.body(null, 304, headers);
    return c.body(a.body, 200, headers);
  });
}
