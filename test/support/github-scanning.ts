/**
 * GitHub secret scanning, played by the test: its own ECDSA P-256 key pairs, a real local HTTP server
 * publishing the public keys in GitHub's document shape, and signed report requests.
 */
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export const GITHUB_SCANNING = "/v2alpha1/secretScanning/github";

export interface SigningKey {
  id: string;
  privateKey: KeyObject;
  /** PEM SPKI, as GitHub publishes it */
  pem: string;
}

export function newSigningKey(id: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { id, privateKey, pem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

/** GITHUB-PUBLIC-KEY-SIGNATURE: ECDSA / SHA-256 over the exact body, DER, base64. */
export function signBody(key: SigningKey, body: string): string {
  return sign("sha256", Buffer.from(body), { key: key.privateKey, dsaEncoding: "der" }).toString("base64");
}

export function signedHeaders(key: SigningKey, body: string, keyId = key.id): Record<string, string> {
  return { "Content-Type": "application/json", "GITHUB-PUBLIC-KEY-IDENTIFIER": keyId, "GITHUB-PUBLIC-KEY-SIGNATURE": signBody(key, body) };
}

export interface KeyServer {
  url: string;
  /** GET requests served so far */
  fetches(): number;
  publish(keys: SigningKey[]): void;
  close(): Promise<void>;
}

/** `{public_keys: [{key_identifier, key, is_current}]}` over real HTTP. */
export async function startKeyServer(keys: SigningKey[]): Promise<KeyServer> {
  let published = keys;
  let fetches = 0;
  const srv = http.createServer((_req, res) => {
    fetches++;
    const doc = { public_keys: published.map((k, i) => ({ key_identifier: k.id, key: k.pem, is_current: i === 0 })) };
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(doc));
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/meta/public_keys/secret_scanning`,
    fetches: () => fetches,
    publish: (k) => {
      published = k;
    },
    close: () => new Promise<void>((resolve) => srv.close(() => resolve())),
  };
}
