import { serve } from "@hono/node-server";
import { Hono } from "hono";

/**
 * The ceiling for our stack: a bare Hono + @hono/node-server route that parses the same JSON body
 * as verify and answers a JSON object of the same size as a verify response. No logging, no
 * middleware. The response template comes from the bench (a real verify response).
 */
const template = JSON.parse(process.env.BASELINE_TEMPLATE ?? "{}") as Record<string, unknown>;
const app = new Hono();
app.post("/v2alpha1/admin/apiKeys:verify", async (c) => {
  const body = await c.req.json<{ credential?: unknown }>();
  if (typeof body.credential !== "string" || body.credential === "") return c.json({ error: "credential is required" }, 400);
  return c.json({ ...template });
});
const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
  process.stdout.write(`BASELINE_PORT ${info.port}\n`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
