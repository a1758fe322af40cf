/**
 * The public edge's opt-in includes (nginx/public-edge.d/) in a REAL nginx in front of a real
 * `talos serve all` on an embedded database: the default edge refuses the GitHub secret scanning
 * receiver and the JWKS with nginx's own 404; with its include each gets through, and nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { edgeInclude, findNginx, httpRequest, rawRequest, renderTemplate, startNginx, warnSkipNginx, type NginxProcess } from "../support/nginx.js";
import { fetchJson, startTalos, stopAllTalos, tempDir, type TalosProcess } from "../support/process.js";
import { GITHUB_SCANNING, newSigningKey, signedHeaders as withContentType, type SigningKey } from "../support/github-scanning.js";

afterAll(stopAllTalos);

const nginxBin = findNginx();
if (!nginxBin) warnSkipNginx("nginx edge includes end-to-end test");

const github = newSigningKey("edge-gh-1");
/** httpRequest sets Content-Type itself */
const signedHeaders = (key: SigningKey, body: string) => {
  const { "Content-Type": _, ...rest } = withContentType(key, body);
  return rest;
};

describe.skipIf(!nginxBin)("public edge opt-in includes: real nginx in front of talos", () => {
  let talos: TalosProcess;
  let plain: NginxProcess;
  let withReceiver: NginxProcess;
  let withJwks: NginxProcess;

  beforeAll(async () => {
    talos = await startTalos({
      args: ["serve", "all"],
      env: {
        TALOS_DB_DSN: `pglite://${tempDir("talos-edge-incl-")}/db`,
        TALOS_SECRETS_HMAC_CURRENT: "e2e-edge-incl-hmac-secret-0123456789abcdef",
        TALOS_CREDENTIALS_ISSUER: "https://edge-incl.e2e.talos.test",
        TALOS_SECRET_SCANNING_GITHUB_ENABLED: "true",
        TALOS_SECRET_SCANNING_GITHUB_PUBLIC_KEYS: JSON.stringify([{ key_identifier: github.id, key: github.pem }]),
      },
    });
    const site = (port: number) =>
      renderTemplate("public-edge.conf", { TALOS_EDGE_LISTEN: `127.0.0.1:${port}`, TALOS_PUBLIC_UPSTREAM: `127.0.0.1:${talos.apiPort}` });
    [plain, withReceiver, withJwks] = await Promise.all([
      startNginx(site),
      startNginx(site, { files: edgeInclude("github-secret-scanning.conf") }),
      startNginx(site, { files: edgeInclude("jwks.conf") }),
    ]);
  }, 180_000);

  afterAll(async () => {
    await plain?.stop();
    await withReceiver?.stop();
    await withJwks?.stop();
    if (talos) expect(await talos.stop()).toBe(0);
  }, 120_000);

  const issue = async () => {
    const r = await fetchJson(`${talos.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { name: "edge", actor_id: "edge-leak" } });
    expect(r.status, r.text).toBe(201);
    return { secret: r.body.secret as string, keyId: r.body.issued_api_key.key_id as string };
  };
  const status = async (keyId: string) => (await fetchJson(`${talos.apiUrl}/v2alpha1/admin/issuedApiKeys/${keyId}`)).body.status;

  it("the default edge answers the receiver path with its own 404; nothing is revoked", async () => {
    const k = await issue();
    const body = JSON.stringify([{ token: k.secret, type: "talos_api_key" }]);
    const r = await rawRequest(plain.port, httpRequest("POST", GITHUB_SCANNING, { body, headers: signedHeaders(github, body) }));
    expect(r.status).toBe(404);
    expect(r.headers["x-request-id"], "nginx's own answer").toBeUndefined();
    expect(JSON.parse(r.body).error.status).toBe("NOT_FOUND");
    expect(await status(k.keyId)).toBe("KEY_STATUS_ACTIVE");
  });

  it("with the include, a signed report gets through and revokes the key; GitHub's feedback comes back", async () => {
    const k = await issue();
    const body = JSON.stringify([{ token: k.secret, type: "talos_api_key", url: "https://github.com/o/r/blob/1/x", source: "content" }]);
    const r = await rawRequest(withReceiver.port, httpRequest("POST", GITHUB_SCANNING, { body, headers: signedHeaders(github, body) }));
    expect(r.status, r.body).toBe(200);
    expect(r.headers["x-request-id"], "answered by talos").toBeTruthy();
    expect(JSON.parse(r.body)).toEqual([{ token_raw: k.secret, token_type: "talos_api_key", label: "true_positive" }]);
    expect(await status(k.keyId)).toBe("KEY_STATUS_REVOKED");
  });

  it("with the include: a bad signature is talos' 401; other methods, spellings and the admin surface stay nginx's 404", async () => {
    const k = await issue();
    const body = JSON.stringify([{ token: k.secret, type: "talos_api_key" }]);
    const forged = { ...signedHeaders(newSigningKey(github.id), body) };
    const r = await rawRequest(withReceiver.port, httpRequest("POST", GITHUB_SCANNING, { body, headers: forged }));
    expect(r.status).toBe(401);
    expect(r.headers["x-request-id"]).toBeTruthy();
    const tricks: [string, string][] = [
      ["GET", GITHUB_SCANNING],
      ["PUT", GITHUB_SCANNING],
      ["POST", `${GITHUB_SCANNING}/`],
      ["POST", "/v2alpha1//secretScanning/github"],
      ["POST", "/v2alpha1/secretScanning/./github"],
      ["POST", "/v2alpha1/secretScanning/%67ithub"],
      ["POST", "/v2alpha1/secretScanning/github/../../admin/issuedApiKeys"],
      ["POST", "/v2alpha1/secretscanning/github"],
      ["POST", "/v2alpha1/admin/issuedApiKeys"],
    ];
    for (const [method, target] of tricks) {
      const res = await rawRequest(withReceiver.port, httpRequest(method, target, { body, headers: signedHeaders(github, body) }));
      expect(res.status, `${method} ${target}`).toBe(404);
      expect(res.headers["x-request-id"], `${method} ${target}`).toBeUndefined();
    }
    expect(await status(k.keyId)).toBe("KEY_STATUS_ACTIVE");
  });

  it("with the include, a report up to 1 MiB passes; larger is nginx's 413", async () => {
    const tokens = Array.from({ length: 1000 }, (_, i) => ({ token: `foreign-${i}-${"x".repeat(100)}`, type: "talos_api_key", url: `https://github.com/o/r/blob/${"a".repeat(40)}/f${i}.txt`, source: "content" }));
    const body = JSON.stringify(tokens);
    expect(Buffer.byteLength(body)).toBeGreaterThan(16 * 1024);
    const ok = await rawRequest(withReceiver.port, httpRequest("POST", GITHUB_SCANNING, { body, headers: signedHeaders(github, body) }));
    expect(ok.status).toBe(200);
    const huge = JSON.stringify([{ token: "x".repeat(1100 * 1024), type: "t" }]);
    const r = await rawRequest(withReceiver.port, httpRequest("POST", GITHUB_SCANNING, { body: huge, headers: signedHeaders(github, huge) }));
    expect(r.status).toBe(413);
    expect(r.headers["x-request-id"]).toBeUndefined();
  });

  it("the JWKS: nginx's 404 by default; with jwks.conf GET and HEAD reach talos, other methods and spellings do not", async () => {
    const JWKS = "/v2alpha1/derivedKeys/jwks.json";
    const off = await rawRequest(plain.port, httpRequest("GET", JWKS));
    expect(off.status).toBe(404);
    expect(off.headers["x-request-id"]).toBeUndefined();
    for (const method of ["GET", "HEAD"]) {
      const r = await rawRequest(withJwks.port, httpRequest(method, JWKS));
      expect(r.headers["x-request-id"], `${method}: answered by talos`).toBeTruthy();
      // 200 with a key set, or talos' own 500 envelope: this server has no signing key
      if (method === "GET") {
        const body = JSON.parse(r.body);
        if (r.status === 200) expect(Array.isArray(body.keys)).toBe(true);
        else expect(body.error.code).toBe(r.status);
      }
    }
    for (const [method, target] of [
      ["DELETE", JWKS],
      ["POST", JWKS],
      ["GET", `${JWKS}/`],
      ["GET", "/v2alpha1/derivedKeys//jwks.json"],
      ["GET", `${JWKS}/../../admin/issuedApiKeys`],
      ["POST", GITHUB_SCANNING],
    ] as const) {
      const r = await rawRequest(withJwks.port, httpRequest(method, target, method === "POST" ? { body: "[]" } : {}));
      expect(r.status, `${method} ${target}`).toBe(404);
      expect(r.headers["x-request-id"], `${method} ${target}`).toBeUndefined();
    }
  });
});
