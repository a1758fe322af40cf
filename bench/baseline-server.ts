import { createServer } from "node:http";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

/**
 * The ceiling for our stack: a bare Hono + @hono/node-server route that parses the same JSON body
 * as verify and answers a JSON object of the same size as a verify response. No logging, no
 * middleware. The response template comes from the bench (a real verify response).
 * `BASELINE_KIND=node`: the same with node:http alone, the floor under the framework
 * (bench/cpu-per-request.ts).
 */
const template = JSON.parse(process.env.BASELINE_TEMPLATE ?? "{}") as Record<string, unknown>;
if (process.env.BASELINE_KIND === "node") {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { credential?: unknown };
      const ok = typeof body.credential === "string" && body.credential !== "";
      res.writeHead(ok ? 200 : 400, { "content-type": "application/json" });
      res.end(JSON.stringify(ok ? { ...template } : { error: "credential is required" }));
    });
  });
  server.listen(0, "127.0.0.1", () => {
    const addr = server.address();
    process.stdout.write(`BASELINE_PORT ${typeof addr === "object" && addr ? addr.port : 0}\n`);
  });
  process.once("SIGTERM", () => server.close(() => process.exit(0)));
} else startHono();

function startHono() {
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
}
