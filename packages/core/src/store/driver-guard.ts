import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Last-resort containment of exceptions thrown inside postgres.js itself. A driver bug that throws
 * from its own timer or socket callback (porsager/postgres #1154: `socket.write` on a closed
 * connection, fixed in 4.x) escapes every query promise and would end the process; the requests it
 * touched already failed with CONNECTION_* errors (503). Only an error whose innermost stack frame
 * lies in the driver's source directory is contained and logged (name and frame, never its message,
 * which may hold query values); anything else keeps Node's default: it is fatal.
 */
export const DRIVER_DIR = packageRoot(createRequire(import.meta.url).resolve("postgres"));
const DRIVER_URL = pathToFileURL(DRIVER_DIR).href;

/** The driver's package directory (its entry point may sit in src/ or cjs/src/, depending on the version). */
function packageRoot(entry: string): string {
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown }).name === "postgres") return dir;
    } catch {
      // no package.json here: keep climbing
    }
  }
  return path.dirname(entry);
}

/** The innermost `at …` frame of an error thrown by postgres.js code, or null. */
export function driverFrame(e: unknown): string | null {
  if (!(e instanceof Error) || typeof e.stack !== "string") return null;
  const top = e.stack.split("\n").find((l) => /^\s+at /.test(l));
  if (!top) return null;
  const inDriver = top.includes(`${DRIVER_DIR}${path.sep}`) || top.includes(`${DRIVER_URL}/`);
  if (!inDriver) return null;
  const loc = /([^/\\(\s]+\.js:\d+(?::\d+)?)\)?\s*$/.exec(top)?.[1];
  return `postgres/${loc ?? "?"}`;
}

/** What a contained fault may log: the error's name, code (an identifier) and innermost frame; never its message. */
export interface DriverFault {
  name: string;
  code: string | undefined;
  frame: string;
  origin: NodeJS.UncaughtExceptionOrigin;
}
type Sink = (fault: DriverFault) => void;
const sinks = new Set<Sink>();

function onUncaught(err: unknown, origin: NodeJS.UncaughtExceptionOrigin): void {
  const frame = driverFrame(err);
  if (frame !== null) {
    const code = (err as { code?: unknown }).code;
    const fault = { name: (err as Error).name, code: typeof code === "string" && /^[A-Z0-9_]{1,40}$/.test(code) ? code : undefined, frame, origin };
    for (const sink of sinks) sink(fault);
    return;
  }
  // Not the driver's: another listener (a test runner) handles it, or we restore Node's default
  if (process.listenerCount("uncaughtException") > 1) return;
  process.removeListener("uncaughtException", onUncaught);
  process.nextTick(() => {
    throw err;
  });
}

/** Registers `sink` for contained driver faults while a PostgreSQL store is open; returns the release. */
export function containDriverFaults(sink: Sink): () => void {
  if (sinks.size === 0) process.on("uncaughtException", onUncaught);
  sinks.add(sink);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    sinks.delete(sink);
    if (sinks.size === 0) process.removeListener("uncaughtException", onUncaught);
  };
}
