/**
 * Admin auth on the node:http fast route (apiKeys:verify served ahead of Hono): a matching token is
 * answered without a promise (guard.check), so the refusals and the throttle must still hold there.
 */
import { hashAdminToken, loadConfig } from "@talos/core";
import { silentLogger } from "@talos/http";
import { createServer, type TalosServer } from "@talos/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_ISSUER, TEST_SECRET } from "../support/harness.js";

const VERIFY = "/v2alpha1/admin/apiKeys:verify";
const VERIFIER = "talos_at_fast_route_verifier_0123456789abcdef";
const READER = "talos_at_fast_route_reader_0123456789abcdefgh";
let server: TalosServer;
let base = "";
let secret = "";

beforeAll(async () => {
  const { config } = loadConfig({
    env: {},
    overrides: {
      "db.dsn": "memory",
      "secrets.hmac.current": TEST_SECRET,
      "credentials.issuer": TEST_ISSUER,
      "serve.metrics.enabled": false,
      "serve.admin_auth.mode": "tokens",
      "serve.admin_auth.throttle.quota": 3,
      "serve.admin_auth.tokens": [
        { name: "verifier", hash: hashAdminToken(VERIFIER), permissions: ["keys:verify"] },
        { name: "reader", hash: hashAdminToken(READER), permissions: ["keys:read"] },
        { name: "writer", hash: hashAdminToken(`${VERIFIER}-w`), permissions: ["keys:write"] },
      ],
    },
  });
  server = await createServer(config, { logger: silentLogger, migrate: true });
  base = `http://127.0.0.1:${(await server.listen("admin", { host: "127.0.0.1", port: 0 })).port}`;
  const issued = await fetch(`${base}/v2alpha1/admin/issuedApiKeys`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${VERIFIER}-w` }, body: "{}" });
  secret = ((await issued.json()) as { secret: string }).secret;
});
afterAll(() => server?.close());

const verify = async (headers: Record<string, string>) => {
  const r = await fetch(`${base}${VERIFY}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ credential: secret }) });
  return { status: r.status, headers: r.headers, body: (await r.json()) as { is_valid?: boolean; error?: { status: string } } };
};

describe("verify on the fast route with mode tokens", () => {
  it("serves the keys:verify token, in either header", async () => {
    expect((await verify({ authorization: `Bearer ${VERIFIER}` })).body.is_valid).toBe(true);
    expect((await verify({ "talos-admin-authorization": `Bearer ${VERIFIER}` })).body.is_valid).toBe(true);
  });

  it("401 without a credential, 403 with a token lacking keys:verify", async () => {
    const none = await verify({});
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="talos-admin"');
    const reader = await verify({ authorization: `Bearer ${READER}` });
    expect(reader.status).toBe(403);
    expect(reader.body.error?.status).toBe("PERMISSION_DENIED");
  });

  it("a throttled IP gets 429 even with a valid token (no shortcut past the throttle)", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await verify({ authorization: `Bearer wrong-${i}` })).status);
    expect(statuses).toContain(429);
    expect((await verify({ authorization: `Bearer ${VERIFIER}` })).status).toBe(429);
  });
});
