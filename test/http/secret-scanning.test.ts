/**
 * GitHub secret scanning receiver (docs/leaked-keys.md): a real server on a real port, GitHub played
 * by the test (its own ECDSA keys, published by a real local HTTP server), signed real requests.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Listening } from "@talos/server";
import { startOn, startTestServer, testDatabases, type TestServer } from "../support/harness.js";
import { ISSUED, actor, issue, signingJwksUrl } from "../support/http-expect.js";
import { GITHUB_SCANNING, newSigningKey, signBody, signedHeaders, startKeyServer, type KeyServer } from "../support/github-scanning.js";

const IMPORTED = "/v2alpha1/admin/importedApiKeys";
const github = newSigningKey("gh-key-1");
const stranger = newSigningKey("gh-key-1"); // same id, another key: a forged signature

describe.each(testDatabases())("GitHub secret scanning receiver on $name", (db) => {
  let keyServer: KeyServer;
  let s: TestServer;
  let api: Listening;
  let url: string;

  beforeAll(async () => {
    keyServer = await startKeyServer([github]);
    s = await startOn(db, {
      overrides: {
        "secret_scanning.github.enabled": true,
        "secret_scanning.github.public_keys_url": keyServer.url,
        "credentials.derived_tokens.jwt.signing_keys.urls": [signingJwksUrl(`k-${randomUUID().slice(0, 8)}`)],
      },
    });
    api = await s.built.listen("all", { host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${api.port}${GITHUB_SCANNING}`;
  }, 180_000);
  afterAll(async () => {
    await s?.close();
    await keyServer?.close();
  });

  const post = async (body: string, headers: Record<string, string>) => {
    const res = await fetch(url, { method: "POST", body, headers });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, text, headers: res.headers };
  };
  const report = (tokens: { token: string; type?: string; url?: string; source?: string }[]) =>
    JSON.stringify(tokens.map((t) => ({ type: "talos_api_key", url: "https://github.com/o/r/blob/abc/leak.txt", source: "content", ...t })));
  const getIssued = async (id: string) => (await s.request("GET", `${ISSUED}/${id}`)).body;
  const importKey = async (raw: string) => {
    const r = await s.request("POST", IMPORTED, { raw_key: raw, name: "leak", actor_id: actor("imp") });
    expect(r.status, r.text).toBe(201);
    return r.body.key_id as string;
  };

  it("labels every token and revokes the keys of this server with KEY_COMPROMISE", async () => {
    const live = await issue(s, { actor_id: actor("leak") });
    const already = await issue(s, { actor_id: actor("leak") });
    expect((await s.request("POST", `${ISSUED}/${already.key.key_id}:revoke`, { reason: "REVOCATION_REASON_SUPERSEDED" })).status).toBe(204);
    const parent = await issue(s, { actor_id: actor("leak") });
    const derived = await s.request("POST", "/v2alpha1/admin/apiKeys:derive", { credential: parent.secret, algorithm: "TOKEN_ALGORITHM_JWT" });
    expect(derived.status, derived.text).toBe(200);
    const jwt = derived.body.token.token as string;
    const raw = `imported-leak-${randomUUID()}`;
    const importedId = await importKey(raw);
    const badChecksum = live.secret.slice(0, -1) + (live.secret.endsWith("2") ? "3" : "2");

    const body = report([
      { token: live.secret },
      { token: raw },
      { token: already.secret },
      { token: "AKIAIOSFODNN7EXAMPLE-not-ours" },
      { token: jwt, type: "talos_jwt" },
      { token: badChecksum },
    ]);
    const res = await post(body, signedHeaders(github, body));
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.body).toEqual([
      { token_raw: live.secret, token_type: "talos_api_key", label: "true_positive" },
      { token_raw: raw, token_type: "talos_api_key", label: "true_positive" },
      { token_raw: already.secret, token_type: "talos_api_key", label: "true_positive" },
      { token_raw: "AKIAIOSFODNN7EXAMPLE-not-ours", token_type: "talos_api_key", label: "false_positive" },
      { token_raw: jwt, token_type: "talos_jwt", label: "true_positive" },
      { token_raw: badChecksum, token_type: "talos_api_key", label: "false_positive" },
    ]);

    const liveNow = await getIssued(live.key.key_id);
    expect(liveNow.status).toBe("KEY_STATUS_REVOKED");
    expect(liveNow.revocation_reason).toBe("REVOCATION_REASON_KEY_COMPROMISE");
    const imp = (await s.request("GET", `${IMPORTED}/${importedId}`)).body;
    expect(imp.status).toBe("KEY_STATUS_REVOKED");
    expect(imp.revocation_reason).toBe("REVOCATION_REASON_KEY_COMPROMISE");
    // an already revoked key keeps its own record; derived tokens cannot be revoked, nor is their parent
    expect((await getIssued(already.key.key_id)).revocation_reason).toBe("REVOCATION_REASON_SUPERSEDED");
    expect((await getIssued(parent.key.key_id)).status).toBe("KEY_STATUS_ACTIVE");
    const v = await s.request("POST", "/v2alpha1/admin/apiKeys:verify", { credential: live.secret }, { "Cache-Control": "no-cache" });
    expect(v.body.error_code).toBe("VERIFICATION_ERROR_REVOKED");

    // the same report again: nothing left to revoke, the labels stay
    const again = await post(body, signedHeaders(github, body));
    expect(again.status).toBe(200);
    expect(again.body.map((f: { label: string }) => f.label)).toEqual(res.body.map((f: { label: string }) => f.label));
  });

  it("the same key twice in one report: revoked once, both true_positive; a JWT that does not verify is false_positive", async () => {
    const k = await issue(s, { actor_id: actor("twice") });
    const forgedJwt = "eyJhbGciOiJFZERTQSIsImtpZCI6Im5vcGUifQ.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    const body = report([{ token: k.secret }, { token: k.secret }, { token: forgedJwt }]);
    const res = await post(body, signedHeaders(github, body));
    expect(res.status, res.text).toBe(200);
    expect(res.body.map((f: { label: string }) => f.label)).toEqual(["true_positive", "true_positive", "false_positive"]);
    expect((await getIssued(k.key.key_id)).revocation_reason).toBe("REVOCATION_REASON_KEY_COMPROMISE");
  });

  it("an empty report is an empty answer", async () => {
    const res = await post("[]", signedHeaders(github, "[]"));
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it("401 and nothing revoked: wrong signature, unknown key id, a replayed body with another signature, missing headers", async () => {
    const k = await issue(s, { actor_id: actor("forged") });
    const body = report([{ token: k.secret }]);
    const other = report([{ token: "something-else" }]);
    const cases: [string, Record<string, string>][] = [
      ["signed by another key under GitHub's key id", signedHeaders(stranger, body)],
      ["unknown key id", signedHeaders(github, body, "gh-key-unknown")],
      ["a valid signature of another body", { ...signedHeaders(github, body), "GITHUB-PUBLIC-KEY-SIGNATURE": signBody(github, other) }],
      ["signature not base64", { ...signedHeaders(github, body), "GITHUB-PUBLIC-KEY-SIGNATURE": "!!!" }],
      ["no signature", { "Content-Type": "application/json", "GITHUB-PUBLIC-KEY-IDENTIFIER": github.id }],
      ["no key id", { "Content-Type": "application/json", "GITHUB-PUBLIC-KEY-SIGNATURE": signBody(github, body) }],
      ["no headers", { "Content-Type": "application/json" }],
    ];
    for (const [what, headers] of cases) {
      const res = await post(body, headers);
      expect(res.status, what).toBe(401);
      expect(res.body.error.status, what).toBe("UNAUTHENTICATED");
      expect(res.text, what).not.toContain(k.secret);
    }
    // the body was fine: signed properly it would have revoked the key
    expect((await getIssued(k.key.key_id)).status).toBe("KEY_STATUS_ACTIVE");
  });

  it("400 for a malformed report, 413 for more than 1000 tokens (signed, so past authentication)", async () => {
    const bad = ["not json", "{}", '{"token":"x"}', '[{"type":"t"}]', '[{"token":5,"type":"t"}]', '["x"]', "[null]"];
    for (const body of bad) {
      const res = await post(body, signedHeaders(github, body));
      expect(res.status, body).toBe(400);
      expect(res.body.error.status, body).toBe("INVALID_ARGUMENT");
    }
    const k = await issue(s, { actor_id: actor("big") });
    const big = report(Array.from({ length: 1001 }, (_, i) => ({ token: i === 0 ? k.secret : `foreign-${i}` })));
    const res = await post(big, signedHeaders(github, big));
    expect(res.status).toBe(413);
    expect(res.body.error.status).toBe("RESOURCE_EXHAUSTED");
    expect((await getIssued(k.key.key_id)).status).toBe("KEY_STATUS_ACTIVE");
    const max = report(Array.from({ length: 1000 }, (_, i) => ({ token: `foreign-${i}` })));
    expect((await post(max, signedHeaders(github, max))).status).toBe(200);
  });
});

describe("GitHub secret scanning receiver: configuration", () => {
  it("is not served unless secret_scanning.github.enabled (404 on the public surface)", async () => {
    const p = await startTestServer({ mode: "public" });
    try {
      const body = "[]";
      const res = await p.request("POST", GITHUB_SCANNING, body, signedHeaders(github, body));
      expect(res.status).toBe(404);
    } finally {
      await p.close();
    }
  });

  it("public_keys in the configuration: verified without fetching any URL", async () => {
    const keyServer = await startKeyServer([github]);
    const p = await startTestServer({
      mode: "public",
      overrides: {
        "secret_scanning.github.enabled": true,
        "secret_scanning.github.public_keys_url": keyServer.url,
        "secret_scanning.github.public_keys": [{ key_identifier: github.id, key: github.pem }],
      },
    });
    try {
      const body = JSON.stringify([{ token: "nope", type: "t" }]);
      const ok = await p.request("POST", GITHUB_SCANNING, body, signedHeaders(github, body));
      expect(ok.status, ok.text).toBe(200);
      expect(ok.body).toEqual([{ token_raw: "nope", token_type: "t", label: "false_positive" }]);
      expect((await p.request("POST", GITHUB_SCANNING, body, signedHeaders(stranger, body))).status).toBe(401);
      expect(keyServer.fetches()).toBe(0);
    } finally {
      await p.close();
      await keyServer.close();
    }
  });
});
