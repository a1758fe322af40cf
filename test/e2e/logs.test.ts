/**
 * Logs of a real `talos serve` process (docs/server.md#health-version-metrics-and-logs): a full scripted session full of secrets
 * (issue, rotate, import with raw keys, batch import, verify, self-revoke, derive, gateway verify,
 * page tokens, Authorization headers, secrets pasted into URLs and broken JSON) and then not one
 * secret, raw key, credential, page token, HMAC secret, signing key or database password may
 * appear anywhere in stdout or stderr. Also: log.level and log.format really apply.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { TEST_DSN, freshDatabase, warnSkip } from "../support/postgres.js";
import { fetchJson, runTalos, startTalos, stopAllTalos, type JsonResponse, type TalosProcess } from "../support/process.js";

afterAll(stopAllTalos);

const A = "/v2alpha1/admin";
const HMAC_SECRET = `logs-hmac-secret-${randomBytes(12).toString("hex")}`;
const DB_PASSWORD = `db-pass-${randomBytes(8).toString("hex")}`;

function signingKey() {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk: Record<string, string> = { ...(privateKey.export({ format: "jwk" }) as Record<string, string>), kid: "logs-test-key", alg: "EdDSA", use: "sig" };
  return { d: jwk.d!, url: `base64://${Buffer.from(JSON.stringify({ keys: [jwk] })).toString("base64")}` };
}

/** Every secret the session handles, so the test can look for each one in the output. */
class Secrets {
  readonly all = new Map<string, string>();
  add(what: string, value: unknown): string {
    expect(typeof value === "string" && value.length >= 8, `${what} should be a non-trivial string`).toBe(true);
    this.all.set(what, value as string);
    // the checksum of an issued key is its secret part: look for it on its own too
    const m = /^[A-Za-z0-9_]+_v1_[1-9A-HJ-NP-Za-km-z]+_([1-9A-HJ-NP-Za-km-z]{10,})$/.exec(value as string);
    if (m) this.all.set(`${what} (checksum)`, m[1]!);
    return value as string;
  }
}

describe("no secret ever reaches the logs", () => {
  let t: TalosProcess;
  let drop = async () => {};

  it("a full session on a real process leaves no secret in stdout or stderr", async () => {
    const secrets = new Secrets();
    secrets.add("HMAC secret", HMAC_SECRET);
    const sk = signingKey();
    secrets.add("signing key d", sk.d);
    let dsn = "memory";
    if (TEST_DSN) {
      const db = await freshDatabase("talos_logs");
      drop = db.drop;
      const url = new URL(db.dsn);
      url.password = DB_PASSWORD; // trust authentication ignores it; the logs must not show it
      dsn = url.toString();
      secrets.add("database password", DB_PASSWORD);
    } else {
      warnSkip("database-password part of the log leak test (runs on the embedded database instead)");
    }
    t = await startTalos({
      args: ["serve", "--migrate"],
      env: {
        TALOS_DB_DSN: dsn,
        TALOS_SECRETS_HMAC_CURRENT: HMAC_SECRET,
        TALOS_CREDENTIALS_ISSUER: "https://logs.e2e.talos.test",
        TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: sk.url,
        TALOS_LOG_LEVEL: "debug",
      },
    });
    const calls: JsonResponse[] = [];
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const r = await fetchJson(`${t.apiUrl}${path}`, { method, body, headers });
      calls.push(r);
      return r;
    };

    // issue (one with a request_id, replayed), verify, with Authorization headers carrying secrets
    const k1 = await call("POST", `${A}/issuedApiKeys`, { name: "logs", actor_id: "logs-actor", scopes: ["s"] });
    expect(k1.status).toBe(201);
    const k1Secret = secrets.add("issued secret k1", k1.body.secret);
    const k2 = await call("POST", `${A}/issuedApiKeys`, { name: "logs", actor_id: "logs-actor", request_id: "logs-req-1" }, { Authorization: `Bearer ${k1Secret}` });
    const k2Secret = secrets.add("issued secret k2", k2.body.secret);
    const replay = await call("POST", `${A}/issuedApiKeys`, { name: "logs", actor_id: "logs-actor", request_id: "logs-req-1" });
    expect(replay.status).toBe(200);
    expect((await call("POST", `${A}/apiKeys:verify`, { credential: k1Secret }, { Authorization: `Bearer ${k1Secret}` })).body.is_valid).toBe(true);
    const forged = secrets.add("forged credential", k1Secret.slice(0, -3) + (k1Secret.endsWith("zzz") ? "yyy" : "zzz"));
    expect((await call("POST", `${A}/apiKeys:verify`, { credential: forged })).body.is_valid).toBe(false);
    const unknown = secrets.add("unknown credential", `sk_live_not_registered_${randomBytes(8).toString("hex")}`);
    expect((await call("POST", `${A}/apiKeys:verify`, { credential: unknown })).body.error_code).toBe("VERIFICATION_ERROR_NOT_FOUND");
    expect((await call("POST", `${A}/apiKeys:batchVerify`, { requests: [{ credential: k1Secret }, { credential: forged }, { credential: "" }] })).status).toBe(200);

    // rotate: the new secret is in the response
    const rot = await call("POST", `${A}/issuedApiKeys/${k1.body.issued_api_key.key_id}:rotate`, {});
    expect(rot.status).toBe(201);
    const k1b = secrets.add("rotated secret", rot.body.secret);

    // import with raw_key, duplicate import, batch import with a failing item, imported verify
    const raw1 = secrets.add("raw key 1", `sk_live_logs_${randomBytes(10).toString("hex")}`);
    const raw2 = secrets.add("raw key 2", `sk_live_logs_${randomBytes(10).toString("hex")}`);
    const raw3 = secrets.add("raw key 3", `sk_live_logs_${randomBytes(10).toString("hex")}`);
    expect((await call("POST", `${A}/importedApiKeys`, { raw_key: raw1, name: "logs", actor_id: "logs-imp" })).status).toBe(201);
    expect((await call("POST", `${A}/importedApiKeys`, { raw_key: raw1, name: "logs", actor_id: "logs-imp" })).status).toBe(409);
    expect((await call("POST", `${A}/importedApiKeys`, { raw_key: k2Secret, name: "logs", actor_id: "logs-imp" })).status).toBe(409);
    const batch = await call("POST", `${A}/importedApiKeys:batchCreate`, {
      requests: [
        { raw_key: raw2, name: "logs", actor_id: "logs-batch" },
        { raw_key: raw3, name: "logs", actor_id: "logs-batch" },
        { raw_key: raw1, name: "logs", actor_id: "logs-batch" },
        { raw_key: k1b, name: "logs", actor_id: "logs-batch" },
      ],
    });
    expect(batch.status, batch.text).toBe(200);
    expect((await call("POST", `${A}/apiKeys:verify`, { credential: raw2 })).body.is_valid).toBe(true);

    // derived tokens (JWT and macaroon) and their verification; a derive from a bad parent
    const jwt = await call("POST", `${A}/apiKeys:derive`, { credential: k1b, algorithm: "TOKEN_ALGORITHM_JWT", ttl: "60s" });
    expect(jwt.status, jwt.text).toBe(200);
    const jwtToken = secrets.add("derived JWT", jwt.body.token.token);
    const mac = await call("POST", `${A}/apiKeys:derive`, { credential: raw2, algorithm: "TOKEN_ALGORITHM_MACAROON", ttl: "60s" });
    expect(mac.status, mac.text).toBe(200);
    const macToken = secrets.add("derived macaroon", mac.body.token.token);
    expect((await call("POST", `${A}/apiKeys:verify`, { credential: jwtToken })).body.is_valid).toBe(true);
    expect((await call("POST", `${A}/apiKeys:verify`, { credential: macToken })).body.is_valid).toBe(true);
    expect((await call("POST", `${A}/apiKeys:derive`, { credential: forged })).status).toBe(401);
    expect((await call("POST", "/v2alpha1/apiKeys:selfRevoke", { credential: jwtToken })).status).toBe(400);

    // gateway verify with the credential in headers
    expect((await call("GET", "/gateway/verify", undefined, { Authorization: `Bearer ${k1b}` })).status).toBe(200);
    expect((await call("GET", "/gateway/verify", undefined, { "X-API-Key": raw2 })).status).toBe(200);
    expect((await call("GET", "/gateway/verify", undefined, { Authorization: `Bearer ${forged}` })).status).toBe(401);

    // page tokens, valid and tampered, in the query string
    const page1 = await call("GET", `${A}/issuedApiKeys?page_size=1`);
    expect(page1.status).toBe(200);
    const token = secrets.add("page token", page1.body.next_page_token);
    expect((await call("GET", `${A}/issuedApiKeys?page_size=1&page_token=${encodeURIComponent(token)}`)).status).toBe(200);
    const tampered = secrets.add("tampered page token", `${token.slice(0, -4)}AAAA`);
    expect((await call("GET", `${A}/issuedApiKeys?pageToken=${encodeURIComponent(tampered)}`)).status).toBe(400);

    // secrets where they do not belong: in the path, in an unknown path, in broken JSON
    expect((await call("GET", `${A}/issuedApiKeys/${encodeURIComponent(k1b)}`)).status).toBe(404);
    expect((await call("POST", `${A}/apiKeys/${encodeURIComponent(raw2)}:revoke`, {})).status).toBe(404);
    expect((await call("GET", `/v2alpha1/${encodeURIComponent(raw3)}/verify`)).status).toBe(404);
    expect((await call("POST", `${A}/apiKeys:verify`, `{"credential": "${k1b}"`)).status).toBe(400);
    expect((await call("POST", `${A}/apiKeys:verify`, { credential: k1b, actor_id: { nested: raw3 } })).status).toBe(200);

    // self-revoke (public route of the all-in-one) with a bearer header, and an unknown one
    expect((await call("POST", "/v2alpha1/apiKeys:selfRevoke", { credential: k2Secret }, { Authorization: `Bearer ${k2Secret}` })).status).toBe(200);
    expect((await call("POST", "/v2alpha1/apiKeys:selfRevoke", { credential: unknown })).status).toBe(404);

    // no response body may echo a secret the request did not legitimately return
    for (const r of calls.filter((c) => c.status >= 400)) {
      for (const [what, s] of secrets.all) expect(r.text, `${what} echoed in a ${r.status} response`).not.toContain(s);
    }

    expect(await t.stop()).toBe(0); // flushes the log destination
    const output = [...t.stdout, ...t.stderr].join("\n");
    const records = t.logs();
    // the logs are not empty: one request record per call, audit events, start-up lines
    expect(records.filter((r) => r.msg === "HTTP request completed").length).toBeGreaterThanOrEqual(calls.length);
    const events = new Set(records.map((r) => r.event).filter(Boolean));
    for (const e of ["APIKeyCreated", "APIKeyRotated", "APIKeyRevoked", "TokenDerived"]) expect(events, e).toContain(e);
    expect(records.some((r) => r.msg === "database opened")).toBe(true);

    const leaks = [...secrets.all].filter(([, s]) => output.includes(s)).map(([what]) => what);
    expect(leaks, `secrets found in the logs:\n${leaks.join("\n")}`).toEqual([]);
    // and nothing that looks like an issued key at all
    expect(output).not.toMatch(/ory_ak_v1_[1-9A-HJ-NP-Za-km-z]{20,}_[1-9A-HJ-NP-Za-km-z]{10,}/);
  }, 180_000);

  afterAll(async () => {
    await t?.stop();
    await drop();
  });
});

describe("log.level and log.format", () => {
  const env = (extra: Record<string, string>) => ({
    TALOS_DB_DSN: "memory",
    TALOS_SECRETS_HMAC_CURRENT: HMAC_SECRET,
    TALOS_CREDENTIALS_ISSUER: "https://logs.e2e.talos.test",
    ...extra,
  });

  it("log.level warn drops info records (request lines) and keeps warnings", async () => {
    const p = await startTalos({ args: ["serve"], env: env({ TALOS_LOG_LEVEL: "warn" }) });
    expect((await fetchJson(`${p.apiUrl}/health/alive`)).status).toBe(200);
    expect(await p.stop()).toBe(0);
    const records = p.logs();
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => (r.level as number) >= 40), JSON.stringify(records)).toBe(true);
    expect(records.some((r) => String(r.msg).includes("no built-in authentication"))).toBe(true);
  }, 120_000);

  it("log.format text writes human-readable lines, still without secrets", async () => {
    const p = await startTalos({ args: ["serve"], env: env({ TALOS_LOG_FORMAT: "text", TALOS_LOG_LEVEL: "info" }) });
    const issued = await fetchJson(`${p.apiUrl}${A}/issuedApiKeys`, { body: { name: "text", actor_id: "logs-text" } });
    expect(issued.status).toBe(201);
    await fetchJson(`${p.apiUrl}${A}/apiKeys:verify`, { body: { credential: issued.body.secret }, headers: { Authorization: `Bearer ${issued.body.secret}` } });
    expect(await p.stop()).toBe(0);
    const lines = p.stdout.filter((l) => l.trim() !== "" && !l.startsWith("TALOS_PORTS"));
    expect(lines.some((l) => l.includes("HTTP request completed"))).toBe(true);
    expect(lines.some((l) => l.includes("INFO"))).toBe(true);
    expect(p.logs(), "no JSON records in text mode").toEqual([]);
    const output = [...p.stdout, ...p.stderr].join("\n");
    expect(output).not.toContain(issued.body.secret);
    expect(output).not.toContain(HMAC_SECRET);
  }, 120_000);

  it("an unknown log.level is a start-up error naming the field", async () => {
    const r = await runTalos(["serve"], env({ TALOS_LOG_LEVEL: "chatty" }));
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/log\.level/);
  }, 120_000);
});
