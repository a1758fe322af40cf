/**
 * What every answer must satisfy (issue 12, "property-based fuzzing"): no 5xx, an X-Request-ID,
 * the JSON error envelope on every error (a JSON body on success), the answer a request class
 * is owed (400 for invalid UTF-8, ...), and no secret the run handled.
 */
import type { WireResponse } from "./wire.js";

/** How long a piece of a secret must be to count as leaked (short pieces would match by chance). */
const WINDOW = 16;

/**
 * Every secret the run handled, indexed by its random part (an issued key's checksum, a JWT's
 * signature, a raw key's random tail), so a response is scanned in one pass whatever the pool size.
 */
export class SecretIndex {
  private readonly windows = new Map<string, string>();
  readonly values: string[] = [];

  add(what: string, secret: string): void {
    const part = sensitivePart(secret);
    if (part.length < WINDOW) throw new Error(`${what}: secret too short to track`);
    // a low-entropy value (`sk_fuzz_000…01`) would "leak" through any key id full of zeros
    if (new Set(part).size < 8) return;
    this.values.push(secret);
    for (let i = 0; i + WINDOW <= part.length; i++) this.windows.set(part.slice(i, i + WINDOW), what);
  }

  /** The name of the first secret a piece of which appears in `text`, or null. */
  find(text: string): string | null {
    for (let i = 0; i + WINDOW <= text.length; i++) {
      const hit = this.windows.get(text.slice(i, i + WINDOW));
      if (hit) return hit;
    }
    return null;
  }
}

function sensitivePart(secret: string): string {
  const issued = /^[A-Za-z0-9_]+_v1_[1-9A-HJ-NP-Za-km-z]+_([1-9A-HJ-NP-Za-km-z]{20,})$/.exec(secret);
  if (issued) return issued[1]!; // the identifier is public (timestamp + key id), the checksum is not
  const jwt = /^[\w-]+\.[\w-]+\.([\w-]{20,})$/.exec(secret);
  if (jwt) return jwt[1]!;
  if (/^mc_v1_/.test(secret)) return secret.slice(-43); // the macaroon's signature
  if (/^sk_fuzz_/.test(secret)) return secret.slice(8); // the random part of a raw key the fuzzer made
  return secret;
}

export const ENVELOPE_STATUSES = new Set([
  "INVALID_ARGUMENT",
  "UNAUTHENTICATED",
  "PERMISSION_DENIED",
  "NOT_FOUND",
  "UNIMPLEMENTED",
  "ALREADY_EXISTS",
  "FAILED_PRECONDITION",
  "RESOURCE_EXHAUSTED",
  "CANCELLED",
  "INTERNAL",
  "UNAVAILABLE",
  "DEADLINE_EXCEEDED",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNKNOWN",
  "DATA_LOSS",
]);

/** What a request class is owed beyond the common properties. */
export interface Expectation {
  /** the answer must be one of these */
  status?: number[];
  /** or at least not a success */
  notSuccess?: boolean;
  /** short name of the class, e.g. "invalid UTF-8 body → 400" */
  why: string;
}

/** Problems with one answer (empty = fine). `head`: the request was HEAD (no body expected). */
export function checkResponse(
  res: WireResponse,
  /** `sentRequestId`: the one X-Request-ID the request carried, if exactly one */
  opts: { head: boolean; sentRequestId?: string; expect: Expectation[]; secrets: SecretIndex },
): string[] {
  const problems: string[] = [];
  const { status } = res;
  if (status >= 500) problems.push(`5xx: status ${status}`);
  else if (status < 200 || (status >= 300 && status < 400)) problems.push(`unexpected status ${status}`);
  const rid = res.headers["x-request-id"];
  if (!rid) problems.push("no X-Request-ID");
  else if (opts.sentRequestId !== undefined && /^[\x21-\x7e]{1,128}$/.test(opts.sentRequestId) && rid !== opts.sentRequestId)
    problems.push("X-Request-ID not echoed");
  const text = res.body.toString("utf8");
  if (status >= 400) {
    if (!opts.head) {
      const why = envelopeProblem(text, status);
      if (why) problems.push(`not the error envelope: ${why}`);
    }
  } else if (status >= 200 && status < 300) {
    if (status === 204 || opts.head) {
      if (res.body.length) problems.push(`${opts.head ? "HEAD" : "204"} answer with a body`);
    } else {
      try {
        const v: unknown = JSON.parse(text);
        if (typeof v !== "object" || v === null || Array.isArray(v)) problems.push("success body is not a JSON object");
      } catch {
        problems.push("success body is not JSON");
      }
    }
  }
  for (const e of opts.expect) {
    if (e.status && !e.status.includes(status)) problems.push(`expected ${e.why} (status ${e.status.join("/")}), got ${status}`);
    if (e.notSuccess && status >= 200 && status < 300) problems.push(`expected ${e.why} (no success), got ${status}`);
  }
  const leak = opts.secrets.find(res.headText) ?? opts.secrets.find(text);
  if (leak) problems.push(`secret leaked: ${leak}`);
  return problems;
}

function envelopeProblem(text: string, status: number): string | null {
  let v: any;
  try {
    v = JSON.parse(text);
  } catch {
    return "body is not JSON";
  }
  const e = v?.error;
  if (typeof e !== "object" || e === null) return "no error object";
  if (e.code !== status) return `error.code ${JSON.stringify(e.code)} is not the status`;
  if (typeof e.message !== "string" || !e.message) return "no error.message";
  if (!ENVELOPE_STATUSES.has(e.status)) return `error.status ${JSON.stringify(e.status)}`;
  const d = e.details?.[0];
  if (!Array.isArray(e.details) || typeof d?.reason !== "string" || d.domain !== "www.ory.com/talos") return "no ErrorInfo detail";
  return null;
}
