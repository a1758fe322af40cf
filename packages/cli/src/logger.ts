import { pino, type Logger as Pino } from "pino";
import pretty from "pino-pretty";
import type { Config } from "@talos/core";

/**
 * Structured logs (SPEC.md §16). Redaction is a second line of defence: credentials never
 * reach a log call in the first place.
 */
export function createLogger(log: Config["log"] | { level: string; format: string }): Pino {
  return createLoggers(log).logger;
}

/**
 * The application logger, plus a request logger on the same destination without redaction: its
 * records have fixed fields (the path already redacted), and redaction costs a measurable share
 * of a cache-warm verify.
 */
export function createLoggers(log: Config["log"] | { level: string; format: string }): { logger: Pino; requestLog: Pino } {
  const base = { level: log.level, base: { service: "talos" }, timestamp: pino.stdTimeFunctions.isoTime };
  const opts = {
    ...base,
    redact: {
      paths: ["credential", "secret", "raw_key", "token", "*.credential", "*.secret", "*.raw_key", "*.token", "headers.authorization"],
      censor: "[redacted]",
    },
  };
  const dest = destinationFor(log.format);
  return { logger: pino(opts, dest), requestLog: pino(base, dest) };
}

function destinationFor(format: string) {
  if (format === "text") return pretty({ colorize: false, sync: true, destination: 1 });
  const dest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
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

const LOG_FLUSH_INTERVAL_MS = 500;
