/**
 * A real `talos serve` (all-in-one, embedded database, a signing key configured) and the state a
 * fuzz run starts from: keys in every state, derived tokens, page tokens, and every secret the run
 * handles (so none may ever appear in a response or a log line).
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { fetchJson, startTalos, type TalosProcess } from "../support/process.js";
import type { Dyn } from "./json.js";
import { SecretIndex } from "./oracle.js";
import type { Pools } from "./values.js";

const A = "/v2alpha1/admin";
export const ISSUER = "https://fuzz.talos.test";

export interface Session {
  talos: TalosProcess;
  pools: Pools;
  secrets: SecretIndex;
  /** credentials Dyn values pick from; grows as the run creates keys */
  live: string[];
  resolve: (d: Dyn) => string;
  /** record a secret the run just created */
  learn: (what: string, secret: string) => void;
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export async function startSession(): Promise<Session> {
  const hmac = `fuzz-hmac-${randomBytes(16).toString("hex")}`;
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk: Record<string, string> = {
    ...(privateKey.export({ format: "jwk" }) as Record<string, string>),
    kid: "fuzz-key",
    alg: "EdDSA",
    use: "sig",
  };
  const talos = await startTalos({
    args: ["serve", "--migrate"],
    env: {
      TALOS_DB_DSN: "memory",
      TALOS_SECRETS_HMAC_CURRENT: hmac,
      TALOS_CREDENTIALS_ISSUER: ISSUER,
      TALOS_CREDENTIALS_DERIVED_TOKENS_JWT_SIGNING_KEYS_URLS: `base64://${Buffer.from(JSON.stringify({ keys: [jwk] })).toString("base64")}`,
      TALOS_LOG_LEVEL: "debug",
    },
    startTimeoutMs: 120_000,
  });
  const secrets = new SecretIndex();
  secrets.add("HMAC secret", hmac);
  secrets.add("signing key d", jwk.d!);
  const live: string[] = [];
  const learn = (what: string, s: string) => {
    secrets.add(what, s);
    live.push(s);
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetchJson(`${talos.apiUrl}${path}`, { method, body });
    if (r.status >= 300 && r.status !== 409) throw new Error(`fuzz set-up: ${method} ${path} → ${r.status} ${r.text}`);
    return r;
  };

  const issuedIds: string[] = [];
  const issue = async (body: Record<string, unknown>) => {
    const r = await call("POST", `${A}/issuedApiKeys`, { actor_id: "fuzz-actor", ...body });
    issuedIds.push(r.body.issued_api_key.key_id);
    learn(`issued secret (${body.name})`, r.body.secret);
    return r.body as { secret: string; issued_api_key: { key_id: string } };
  };
  const plain = await issue({ name: "plain", scopes: ["read", "write"] });
  await issue({ name: "rate-limited", rate_limit_policy: { quota: "1000000", window: "60s" } });
  await issue({ name: "ip-restricted", ip_restriction: { allowed_cidrs: ["10.0.0.0/8"] } });
  await issue({ name: "unit", rate_limit_policy: { quota: "5", window: "60s", unit: "content-bytes" } });
  await issue({ name: "metadata", metadata: { team: "fuzz", n: 1 } });
  await issue({ name: "expiring", ttl: "1s" });
  const revoked = await issue({ name: "revoked" });
  await call("POST", `${A}/issuedApiKeys/${revoked.issued_api_key.key_id}:revoke`, { reason: "REVOCATION_REASON_KEY_COMPROMISE" });
  const rotated = await issue({ name: "rotated" });
  const rot = await call("POST", `${A}/issuedApiKeys/${rotated.issued_api_key.key_id}:rotate`, {});
  issuedIds.push(rot.body.issued_api_key.key_id);
  learn("rotated secret", rot.body.secret);

  const importedIds: string[] = [];
  const raws = Array.from({ length: 6 }, () => `sk_fuzz_${randomBytes(16).toString("hex")}`);
  for (const [i, raw] of raws.slice(0, 3).entries()) {
    const r = await call("POST", `${A}/importedApiKeys`, {
      raw_key: raw,
      name: `imported-${i}`,
      actor_id: "fuzz-actor",
      ...(i === 1 ? { rate_limit_policy: { quota: "3", window: "3600s" } } : {}),
    });
    importedIds.push(r.body.key_id);
    learn(`raw key ${i}`, raw);
  }
  const batch = await call("POST", `${A}/importedApiKeys:batchCreate`, {
    requests: raws.slice(3).map((raw, i) => ({ raw_key: raw, name: `batch-${i}`, actor_id: "fuzz-batch" })),
  });
  for (const [i, res] of (batch.body.results as { imported_api_key: { key_id: string } }[]).entries()) {
    importedIds.push(res.imported_api_key.key_id);
    learn(`batch raw key ${i}`, raws[3 + i]!);
  }

  const jwt = await call("POST", `${A}/apiKeys:derive`, { credential: plain.secret, ttl: "1h", scopes: ["read"] });
  learn("derived JWT", jwt.body.token.token);
  const mac = await call("POST", `${A}/apiKeys:derive`, { credential: raws[0], algorithm: "TOKEN_ALGORITHM_MACAROON", ttl: "1h" });
  learn("derived macaroon", mac.body.token.token);

  const pageTokens: string[] = [];
  for (const q of [
    "issuedApiKeys?page_size=1",
    "importedApiKeys?page_size=1",
    `issuedApiKeys?page_size=2&filter=${encodeURIComponent('actor_id="fuzz-actor"')}`,
  ]) {
    const r = await call("GET", `${A}/${q}`);
    if (r.body.next_page_token) pageTokens.push(r.body.next_page_token);
  }

  const foreign = foreignCredentials(plain.secret, jwt.body.token.token);
  const resolve = (d: Dyn): string => {
    const s = live[d.pick % live.length]!;
    if (d.mutate === "flip") return s.slice(0, -1) + (s.endsWith("a") ? "b" : "a");
    if (d.mutate === "truncate") return s.slice(0, Math.max(1, s.length - 5));
    if (d.mutate === "append") return `${s}x`;
    return s;
  };
  return { talos, pools: { issuedIds, importedIds, secrets: [...live], pageTokens, foreign }, secrets, live, resolve, learn };
}

/** Valid-looking credentials this server never issued: another HMAC's checksum, another signer's JWT, alg none. */
function foreignCredentials(issuedSecret: string, jwt: string): string[] {
  const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  const prefix = issuedSecret.slice(0, issuedSecret.lastIndexOf("_") + 1);
  const checksum = Array.from(randomBytes(44), (b) => base58[b % 58]).join("");
  const { privateKey } = generateKeyPairSync("ed25519");
  const now = Math.floor(Date.now() / 1000);
  const head = b64u(JSON.stringify({ alg: "EdDSA", kid: "fuzz-key", typ: "JWT" }));
  const payload = b64u(
    JSON.stringify({ sub: "x", iss: ISSUER, nid: "00000000-0000-0000-0000-000000000000", iat: now, nbf: now, exp: now + 3600, scp: ["read"] }),
  );
  const foreignJwt = `${head}.${payload}.${b64u(sign(null, Buffer.from(`${head}.${payload}`), privateKey))}`;
  const none = `${b64u(JSON.stringify({ alg: "none", typ: "JWT" }))}.${jwt.split(".")[1]}.`;
  return [
    prefix + checksum,
    `ory_ak_v1_${"1".repeat(64)}_${checksum}`,
    foreignJwt,
    none,
    `mc_v1_${b64u(randomBytes(150))}`,
    `eyJ${b64u(randomBytes(40))}`,
    "ory_ak_v1__",
  ];
}
