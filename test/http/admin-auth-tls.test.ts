/**
 * TLS serving and mTLS admin authentication (docs/admin-auth.md#mutual-tls): certificates made by
 * openssl for this test, a real TLS listener, certificate rotation on disk picked up without restart.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

const dir = mkdtempSync(join(tmpdir(), "talos-tls-"));
const f = (name: string) => join(dir, name);
const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

function ca(name: string) {
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-subj", `/CN=${name}`, "-days", "2");
}
function leaf(name: string, caName: string, cn: string, san: string) {
  writeFileSync(f(`${name}.ext`), `subjectAltName=${san}\n`);
  ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
  ssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${caName}.crt`, "-CAkey", `${caName}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`);
}

let server: TestServer;
let port = 0;
let close: (ms: number) => Promise<void>;

interface Answer {
  status: number;
  serial: string;
  body: string;
}

function call(method: string, path: string, client?: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        ca: readFileSync(f("ca.crt")),
        agent: false,
        ...(client ? { cert: readFileSync(f(`${client}.crt`)), key: readFileSync(f(`${client}.key`)) } : {}),
        headers: body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, serial, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  ca("ca");
  ca("other-ca");
  leaf("server", "ca", "localhost", "IP:127.0.0.1,DNS:localhost");
  leaf("ops", "ca", "ops-admin", "DNS:ops.example");
  leaf("reader", "ca", "someone", "DNS:reader.example");
  leaf("intruder", "other-ca", "ops-admin", "DNS:ops.example");
  server = await startTestServer({
    overrides: {
      "serve.http.tls.cert_path": f("server.crt"),
      "serve.http.tls.key_path": f("server.key"),
      "serve.http.tls.client_ca_path": f("ca.crt"),
      "serve.admin_auth.mode": ["mtls"],
      "serve.admin_auth.mtls.clients": [
        { subject: "ops-admin", permissions: ["admin"] },
        { name: "reader", san: "DNS:reader.example", permissions: ["keys:read"] },
      ],
    },
  });
  const l = await server.built.listen("all", { host: "127.0.0.1", port: 0 });
  port = l.port;
  close = l.close;
});
afterAll(async () => {
  await close?.(1_000);
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("mTLS", () => {
  it("no client certificate: probes answer, the admin API is 401", async () => {
    expect((await call("GET", "/health/alive")).status).toBe(200);
    expect((await call("GET", "/v2alpha1/admin/issuedApiKeys")).status).toBe(401);
  });

  it("a certificate from another CA is 401, even with an allowed subject", async () => {
    expect((await call("GET", "/v2alpha1/admin/issuedApiKeys", "intruder")).status).toBe(401);
  });

  it("an allowed subject or SAN gets its permissions, on Hono and on the fast verify route", async () => {
    expect((await call("GET", "/v2alpha1/admin/issuedApiKeys", "ops")).status).toBe(200);
    const issued = await call("POST", "/v2alpha1/admin/issuedApiKeys", "ops", JSON.stringify({ actor_id: "mtls" }));
    expect(issued.status).toBe(201);
    const secret = JSON.parse(issued.body).secret as string;
    const verify = await call("POST", "/v2alpha1/admin/apiKeys:verify", "ops", JSON.stringify({ credential: secret }));
    expect(JSON.parse(verify.body).is_valid).toBe(true);
    expect((await call("POST", "/v2alpha1/admin/apiKeys:verify", undefined, JSON.stringify({ credential: secret }))).status).toBe(401);
    expect((await call("GET", "/v2alpha1/admin/issuedApiKeys", "reader")).status).toBe(200);
    expect((await call("POST", "/v2alpha1/admin/issuedApiKeys", "reader", "{}")).status).toBe(403);
  });
});

describe("TLS serving", () => {
  it("a rotated certificate on disk is served without restart", async () => {
    const before = (await call("GET", "/health/alive")).serial;
    leaf("server2", "ca", "localhost", "IP:127.0.0.1,DNS:localhost");
    // atomic replacement, as cert-manager and certbot do
    renameSync(f("server2.key"), f("server.key.new"));
    renameSync(f("server2.crt"), f("server.crt.new"));
    renameSync(f("server.key.new"), f("server.key"));
    renameSync(f("server.crt.new"), f("server.crt"));
    let after = before;
    for (let i = 0; i < 60 && after === before; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = (await call("GET", "/health/alive")).serial;
    }
    expect(after).not.toBe(before);
    expect((await call("GET", "/v2alpha1/admin/issuedApiKeys", "ops")).status).toBe(200);
  });
});
