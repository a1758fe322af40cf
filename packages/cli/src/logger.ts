import { trace } from "@opentelemetry/api";
import { pino, type DestinationStream, type Logger as Pino } from "pino";
import pretty from "pino-pretty";
import type { Config } from "@talos/core";
import type { RequestLine } from "@talos/server";

export type { RequestLine };

/**
 * Structured logs (docs/server.md#health-version-metrics-and-logs). Redaction is a second line of defence: credentials never
 * reach a log call in the first place.
 */
export function createLogger(log: Config["log"] | { level: string; format: string }): Pino {
  return createLoggers(log).logger;
}

/**
 * The application logger, plus the request log on the same destination. The request log has fixed
 * fields (the path already redacted), so in JSON format it writes pino's line layout itself:
 * pino's generic serialisation and redaction were a measurable share of a cache-warm verify.
 */
export function createLoggers(
  log: Config["log"] | { level: string; format: string },
  /** where JSON lines go; stdout (buffered) unless a test passes its own */
  destination?: DestinationStream,
): { logger: Pino; logRequest: (line: RequestLine) => void } {
  const base = { level: log.level, base: { service: "talos" }, timestamp: pino.stdTimeFunctions.isoTime, mixin: traceLogFields };
  const opts = {
    ...base,
    redact: {
      paths: ["credential", "secret", "raw_key", "token", "*.credential", "*.secret", "*.raw_key", "*.token", "headers.authorization"],
      censor: "[redacted]",
    },
  };
  const dest = destination ?? destinationFor(log.format);
  const logger = pino(opts, dest);
  if (!logger.isLevelEnabled("info")) return { logger, logRequest: () => {} };
  if (log.format === "text") {
    const requestLog = pino(base, dest);
    return { logger, logRequest: (line) => requestLog.info(line, REQUEST_MSG) };
  }
  const json = dest as DestinationStream;
  const logRequest = (l: RequestLine) => {
    json.write(
      `{"level":30,"time":"${isoNow()}","service":"talos","method":${JSON.stringify(l.method)},"route":${JSON.stringify(l.route)},"path":${JSON.stringify(l.path)},"status":${l.status},"bytes":${l.bytes},"duration_ms":${l.duration_ms},"request_id":${JSON.stringify(l.request_id)}${traceJson()},"msg":"${REQUEST_MSG}"}\n`,
    );
  };
  return { logger, logRequest };
}

const REQUEST_MSG = "HTTP request completed";

/**
 * Date.now() as toISOString() writes it (pino's isoTime), built from a per-second prefix: under
 * load many request lines share a second, and a Date plus toISOString per line was a visible share
 * of a warm verify.
 */
export function isoNow(now = Date.now()): string {
  const second = Math.floor(now / 1000) * 1000;
  if (second !== stampSecond) {
    stampSecond = second;
    // "YYYY-MM-DDTHH:MM:SS." (or an expanded year): everything before the milliseconds
    stampPrefix = new Date(second).toISOString().slice(0, -4);
  }
  const ms = now - second;
  return `${stampPrefix}${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}Z`;
}
let stampSecond = Number.NaN;
let stampPrefix = "";

/** trace_id and span_id of the active sampled span (docs/observability.md#tracing); {} without one. */
export function traceLogFields(): Record<string, string> {
  // a fresh object each time: pino assigns the line's own fields into it
  const span = trace.getActiveSpan();
  if (!span) return {};
  const c = span.spanContext();
  if ((c.traceFlags & 1) === 0) return {};
  return { trace_id: c.traceId, span_id: c.spanId };
}

function traceJson(): string {
  const t = traceLogFields();
  return t.trace_id ? `,"trace_id":"${t.trace_id}","span_id":"${t.span_id}"` : "";
}

function destinationFor(format: string) {
  if (format === "text") return pretty({ colorize: false, sync: true, destination: 1 });
  const dest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  gatherLines(dest);
  // The 4 KiB buffer batches writes under load; without a timer a quiet server would hold its
  // start-up warnings and request logs indefinitely (and lose them on a crash).
  setInterval(() => {
    try {
      dest.flush();
    } catch {
      // destination not ready or already closed: the next tick or the exit flush writes it
    }
  }, LOG_FLUSH_INTERVAL_MS).unref();
  return dest;
}

type Destination = ReturnType<typeof pino.destination>;

/**
 * Lines are gathered into one string and handed to SonicBoom about 4 KiB at a time. SonicBoom
 * appends every write to its pending string and then measures that whole string's UTF-8 length
 * (flattening it): up to 16 KiB scanned per 250-byte request line, which under load cost more than
 * formatting the line. Its own flush and flushSync (the timer below, shutdown's logger.flush(),
 * pino's exit handler) hand the gathered lines over first, so none stays behind; order is kept, as
 * the application log goes through the same write.
 */
export function gatherLines(dest: Destination, batchChars = LOG_BATCH_CHARS): void {
  const write = dest.write.bind(dest);
  const flush = dest.flush.bind(dest);
  const flushSync = dest.flushSync.bind(dest);
  let pending = "";
  const handOver = () => {
    if (pending === "") return true;
    const lines = pending;
    pending = "";
    return write(lines);
  };
  dest.write = (line: string) => {
    pending += line;
    return pending.length >= batchChars ? handOver() : true;
  };
  dest.flush = (cb?: (err?: Error) => void) => {
    handOver();
    flush(cb);
  };
  dest.flushSync = () => {
    handOver();
    flushSync();
  };
}

const LOG_BATCH_CHARS = 4096;

// short enough that a line reaches a reader (tests, a log shipper) promptly; exit and shutdown flush as well
const LOG_FLUSH_INTERVAL_MS = 200;
