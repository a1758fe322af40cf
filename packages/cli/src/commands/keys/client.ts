import { VERSION } from "@talos/core/version";
import { processEnv } from "../../env.js";
import { parseHeaders, type CommonOptions } from "./parse.js";

/** A failed call: `message` is the error envelope's message (docs/wire.md#error-envelope), safe to print. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface CallInit {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
}

export interface Client {
  /** Resolves with the parsed JSON body (undefined for 204); throws ApiError on a non-2xx answer. */
  call<T = unknown>(path: string, init?: CallInit): Promise<T>;
}

const TIMEOUT_MS = 30_000;

/** Path segment for a key id typed by the user (it may hold anything). */
export const seg = (s: string): string => encodeURIComponent(s);

export function createClient(opts: CommonOptions): Client {
  const extraHeaders = parseHeaders(opts.header);
  const token = opts.token || processEnv().TALOS_ADMIN_TOKEN || "";
  return {
    async call<T>(path: string, init: CallInit = {}): Promise<T> {
      const url = new URL(opts.endpoint + path);
      for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
      const headers = new Headers({ accept: "application/json", "user-agent": `talos-cli/${VERSION}` });
      if (init.body !== undefined) headers.set("content-type", "application/json");
      if (token !== "") headers.set("authorization", `Bearer ${token}`);
      for (const [k, v] of Object.entries(init.headers ?? {})) headers.set(k, v);
      // -H last: a proxy in front of the admin API may need to override anything
      for (const [k, v] of extraHeaders) headers.set(k, v);

      let res: Response;
      try {
        res = await fetch(url, {
          method: init.method ?? (init.body === undefined ? "GET" : "POST"),
          headers,
          body: init.body === undefined ? undefined : JSON.stringify(init.body),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (e) {
        throw new Error(`cannot reach ${opts.endpoint}: ${networkReason(e)}`);
      }
      const text = await res.text();
      let body: unknown;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (!res.ok) throw new ApiError(envelopeMessage(body) ?? `HTTP ${res.status} ${res.statusText}`.trim(), res.status);
      if (text !== "" && body === undefined) throw new Error(`${opts.endpoint} answered HTTP ${res.status} without a JSON body`);
      return body as T;
    },
  };
}

function envelopeMessage(body: unknown): string | undefined {
  const err = (body as { error?: { message?: unknown } } | undefined)?.error;
  const msg = typeof err?.message === "string" ? err.message : undefined;
  // one line, whatever the server sent
  return msg?.replace(/\s+/g, " ").trim() || undefined;
}

function networkReason(e: unknown): string {
  if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return `no answer within ${TIMEOUT_MS / 1000}s`;
  const cause = e instanceof Error ? (e.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
}
