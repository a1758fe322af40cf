/**
 * HTTP with a chosen Host header (fetch always sends the URL's host), for the multitenancy tests.
 */
import { Agent, request } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface HostResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One call to 127.0.0.1:`port` as `host`; `body` is JSON-encoded unless it is a string. */
export function hostCall(port: number, host: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HostResponse> {
  const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method,
        path,
        agent,
        headers: { host, ...(text === undefined ? {} : { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) }), ...headers },
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (data += d));
        res.on("end", () => {
          let parsed: unknown;
          try {
            parsed = data ? JSON.parse(data) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text: data });
        });
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

/** A client bound to one server port and one host. */
export function hostClient(port: number, host: string) {
  return {
    get: (path: string, headers?: Record<string, string>) => hostCall(port, host, "GET", path, undefined, headers),
    post: (path: string, body: unknown = {}, headers?: Record<string, string>) => hostCall(port, host, "POST", path, body, headers),
    patch: (path: string, body: unknown) => hostCall(port, host, "PATCH", path, body),
    verify: (credential: string) => hostCall(port, host, "POST", "/v2alpha1/admin/apiKeys:verify", { credential }),
    async issue(body: Record<string, unknown> = {}) {
      const r = await hostCall(port, host, "POST", "/v2alpha1/admin/issuedApiKeys", { name: "mt", actor_id: "mt-actor", ...body });
      if (r.status !== 201) throw new Error(`issue on ${host} failed: ${r.status} ${r.text}`);
      return { keyId: r.body.issued_api_key.key_id as string, secret: r.body.secret as string };
    },
  };
}

/** Writes `text` to `dir/name` and returns the path. */
export function writeIn(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}
