/**
 * SIGTERM on a real `talos serve` process with keep-alive clients (docs/server.md#processes-surfaces-and-ports): every request sent
 * before the signal is answered and logged, none is reset; idle keep-alive connections are closed
 * cleanly and the process exits 0. Several trials, since the defect was a race (3 of 8 before).
 */
import { connect } from "node:net";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { E2E_TIMEOUT_MS, fetchJson, startTalos } from "../support/process.js";

const TRIALS = 3;
const CONNECTIONS = 20;
/** how long the clients run before SIGTERM */
const RUN_MS = 500;
const VERIFY = "/v2alpha1/admin/apiKeys:verify";

interface Sent {
  id: string;
  /** performance.now() when the request was written */
  at: number;
  status?: number;
  valid?: boolean;
  /** the answer's Connection header */
  connection?: string;
  /** how the connection ended before an answer, if it did */
  error?: string;
}

/**
 * One keep-alive client on a raw socket: sends verify after verify, each once the previous answer
 * is in, until the server closes the connection (or refuses it). Records every request it wrote.
 */
function client(port: number, credential: string, prefix: string, sent: Sent[]): { established: Promise<void>; done: Promise<void> } {
  let onEstablished!: () => void;
  const established = new Promise<void>((r) => (onEstablished = r));
  const done = new Promise<void>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    let current: Sent | undefined;
    const send = () => {
      current = { id: `${prefix}-${randomUUID()}`, at: performance.now() };
      sent.push(current);
      const body = JSON.stringify({ credential });
      socket.write(`POST ${VERIFY} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-ID: ${current.id}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    };
    socket.on("connect", send);
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0 || !current) return;
        const head = buf.subarray(0, end).toString("latin1");
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = JSON.parse(buf.subarray(end + 4, end + 4 + length).toString());
        buf = buf.subarray(end + 4 + length);
        current.status = Number(head.split(" ")[1]);
        current.valid = body.is_valid;
        current.connection = /connection: *(\S+)/i.exec(head)?.[1]?.toLowerCase();
        current = undefined;
        onEstablished();
        if (/connection: *close/i.test(head)) return; // the server closes it after this answer
        send();
      }
    });
    socket.on("error", (e: NodeJS.ErrnoException) => {
      if (current) current.error = e.code ?? e.message;
    });
    socket.on("close", () => {
      if (current && current.status === undefined) current.error ??= "closed without an answer";
      onEstablished();
      resolve();
    });
  });
  return { established, done };
}

describe("SIGTERM answers every request sent before it (keep-alive clients)", () => {
  it(
    `${TRIALS} trials: ${CONNECTIONS} keep-alive clients verifying back to back; SIGTERM; every request is answered and logged`,
    async () => {
      for (let trial = 0; trial < TRIALS; trial++) {
        const t0 = performance.now();
        const p = await startTalos({
          args: ["serve"],
          startTimeoutMs: 180_000,
          env: { TALOS_DB_DSN: "memory", TALOS_SECRETS_HMAC_CURRENT: "drain-test-hmac-secret-0123456789abcdef", TALOS_CREDENTIALS_ISSUER: "https://drain.test" },
        });
        try {
          const issued = await fetchJson(`${p.apiUrl}/v2alpha1/admin/issuedApiKeys`, { body: { name: "drain", actor_id: `drain-${trial}` } });
          expect(issued.status).toBe(201);
          const secret = issued.body.secret as string;
          const sent: Sent[] = [];
          const clients = Array.from({ length: CONNECTIONS }, (_, i) => client(p.apiPort, secret, `drain-${trial}-${i}`, sent));
          // every connection is established (accepted, one answer received) before the clock starts
          await Promise.all(clients.map((c) => c.established));
          await new Promise((r) => setTimeout(r, RUN_MS));
          const t1 = performance.now();
          const exit = p.stop("SIGTERM");
          await Promise.all(clients.map((c) => c.done));
          expect(await exit).toBe(0);
          const before = sent.filter((r) => r.at < t1);
          console.info(
            `[e2e figures] drain trial ${trial}: start ${Math.round(t1 - t0 - RUN_MS)} ms, SIGTERM -> exit 0 ${Math.round(performance.now() - t1)} ms, ` +
              `${before.length} requests written before SIGTERM, ${sent.length - before.length} after (${sent.filter((r) => r.at >= t1 && r.status !== 200).length} of them unanswered)`,
          );
          expect(before.length).toBeGreaterThan(CONNECTIONS);
          // every request written before the signal was answered (none reset)
          const unanswered = before.filter((r) => r.status !== 200 || r.valid !== true);
          expect(unanswered, `trial ${trial}: requests not answered`).toEqual([]);
          // every answered request is in the request log
          const logged = new Set(p.logs().filter((l) => l.msg === "HTTP request completed").map((l) => l.request_id));
          expect(sent.filter((r) => r.status !== undefined && !logged.has(r.id)).map((r) => r.id), `trial ${trial}: not logged`).toEqual([]);
        } finally {
          await p.stop("SIGKILL").catch(() => {});
        }
      }
    },
    TRIALS * E2E_TIMEOUT_MS,
  );
});
