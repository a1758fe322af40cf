import { pino, type Logger as Pino } from "pino";
import pretty from "pino-pretty";
import type { Config } from "@talos/core";

/**
 * Structured logs (SPEC.md §16). Redaction is a second line of defence: credentials never
 * reach a log call in the first place.
 */
export function createLogger(log: Config["log"] | { level: string; format: string }): Pino {
  const opts = {
    level: log.level,
    base: { service: "talos" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["credential", "secret", "raw_key", "token", "*.credential", "*.secret", "*.raw_key", "*.token", "headers.authorization"],
      censor: "[redacted]",
    },
  };
  if (log.format === "text") return pino(opts, pretty({ colorize: false, sync: true, destination: 1 }));
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
  return pino(opts, dest);
}

const LOG_FLUSH_INTERVAL_MS = 500;
