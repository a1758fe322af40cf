import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * PGlite does not lock its data directory, so we do: `<dir>/.talos.lock` created atomically
 * (write a temp file, link(2) it into place) holding our pid and kernel identity. A lock is stale
 * when, on the same kernel and pid namespace, its process is gone (or the pid was reused); across
 * namespaces (containers sharing a volume) when its heartbeat mtime is older than LOCK_STALE_MS.
 * Not proper-lockfile: it judges staleness by mtime alone, so a restart right after a kill -9
 * would be refused until the dead lock aged out; the pid check takes it over at once.
 */
export interface DirLock {
  release(): void;
}
const LOCK_FILE = ".talos.lock";
const LOCK_HEARTBEAT_MS = 5_000;
const LOCK_STALE_MS = 30_000;
const heldDirs = new Set<string>();

interface LockInfo {
  pid: number;
  host: string;
  boot?: string | undefined;
  pidns?: string | undefined;
  start?: string | undefined;
  token: string;
}

function readOr<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

const bootId = (): string | undefined =>
  readOr(() => fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
const pidNamespace = (): string | undefined => readOr(() => fs.readlinkSync("/proc/self/ns/pid"));
/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; tells a reused pid apart. */
function processStart(pid: number): string | undefined {
  return readOr(() => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function lockedError(dir: string): Error {
  return new Error(`database directory ${dir} is locked by another talos process`);
}

function isStale(info: LockInfo | undefined, mtimeMs: number, me: LockInfo): boolean {
  if (!info || typeof info.pid !== "number") return true;
  const comparable = me.boot && me.pidns ? info.boot === me.boot && info.pidns === me.pidns : info.host === me.host;
  if (!comparable) return Date.now() - mtimeMs > LOCK_STALE_MS;
  if (info.pid === process.pid) return true; // not in heldDirs: a previous incarnation with our pid
  if (!processAlive(info.pid)) return true;
  if (info.start !== undefined) {
    const now = processStart(info.pid);
    if (now !== undefined && now !== info.start) return true;
  }
  return false;
}

export function acquireDirLock(dir: string, log: (m: string) => void): DirLock {
  const real = fs.realpathSync(dir);
  if (heldDirs.has(real)) throw lockedError(dir);
  const file = path.join(real, LOCK_FILE);
  const me: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    boot: bootId(),
    pidns: pidNamespace(),
    start: processStart(process.pid),
    token: randomUUID(),
  };
  const content = JSON.stringify(me);

  for (let attempt = 0; attempt < 3; attempt++) {
    const tmp = `${file}.${me.token}.tmp`;
    fs.writeFileSync(tmp, content, { mode: 0o600 });
    try {
      fs.linkSync(tmp, file);
      return holdLock(real, file, content);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    const seen = readOr(() => ({ text: fs.readFileSync(file, "utf8"), mtimeMs: fs.statSync(file).mtimeMs }));
    if (!seen) continue; // vanished meanwhile: retry
    if (!isStale(readOr(() => JSON.parse(seen.text) as LockInfo), seen.mtimeMs, me)) throw lockedError(dir);
    // take the stale file out of the way atomically; if what we moved is not what we judged, put it back
    const grave = `${file}.${me.token}.stale`;
    try {
      fs.renameSync(file, grave);
    } catch {
      continue; // vanished meanwhile: retry
    }
    const moved = readOr(() => fs.readFileSync(grave, "utf8"));
    if (moved !== seen.text) {
      readOr(() => fs.linkSync(grave, file));
      fs.rmSync(grave, { force: true });
      throw lockedError(dir);
    }
    fs.rmSync(grave, { force: true });
    log(`removed stale lock ${file}`);
  }
  throw lockedError(dir);
}

function holdLock(real: string, file: string, content: string): DirLock {
  heldDirs.add(real);
  const beat = setInterval(() => {
    const now = new Date();
    fs.utimes(file, now, now, () => {});
  }, LOCK_HEARTBEAT_MS);
  beat.unref();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      if (readOr(() => fs.readFileSync(file, "utf8")) === content) fs.rmSync(file, { force: true });
      heldDirs.delete(real);
    },
  };
}
