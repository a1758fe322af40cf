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
  return pino(opts, pino.destination({ dest: 1, sync: false, minLength: 4096 }));
}
