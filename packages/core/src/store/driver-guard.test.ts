import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DRIVER_DIR, driverFrame } from "./driver-guard.js";

const GUARD = fileURLToPath(new URL("./driver-guard.ts", import.meta.url));

/** A stack as postgres.js 3.4.x produced it in porsager/postgres #1154. */
function driverError(): TypeError {
  const e = new TypeError("Cannot read properties of null (reading 'write')");
  e.stack = `${e.name}: ${e.message}\n    at Immediate.nextWrite (file://${DRIVER_DIR}/src/connection.js:255:22)\n    at process.processImmediate (node:internal/timers:485:21)`;
  return e;
}

/** Runs a module in a fresh node process with the guard installed; `body` is module source. */
function child(body: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "talos-guard-"));
  const file = path.join(dir, "child.mts");
  fs.writeFileSync(
    file,
    `import { containDriverFaults, DRIVER_DIR } from ${JSON.stringify(GUARD)};\n` +
      `containDriverFaults((f) => console.log("contained", f.origin, f.name, f.code, f.frame));\n${body}\n`,
  );
  try {
    return spawnSync(process.execPath, ["--import", "tsx", file], { encoding: "utf8", timeout: 60_000 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("postgres.js fault containment", () => {
  it("classifies by the innermost frame: the driver's own code, not a callback of ours it called", () => {
    expect(driverFrame(driverError())).toBe("postgres/connection.js:255:22");
    const ours = new Error("x");
    ours.stack = `Error: x\n    at onMessage (/app/packages/core/src/store/postgres.ts:80:5)\n    at handle (${DRIVER_DIR}/src/connection.js:900:3)`;
    expect(driverFrame(ours)).toBeNull();
    expect(driverFrame(new Error("plain"))).toBeNull();
    expect(driverFrame("not an error")).toBeNull();
  });

  it("an exception thrown inside the driver is logged (name and frame, no message) and the process lives", { timeout: 70_000 }, () => {
    const r = child(`
      setImmediate(() => {
        const e = new TypeError("secret-looking message sk_live_123");
        e.stack = "TypeError: secret-looking message sk_live_123\\n    at Immediate.nextWrite (file://" + DRIVER_DIR + "/src/connection.js:255:22)";
        throw e;
      });
      setTimeout(() => {
        const e = new Error("write CONNECTION_CLOSED 127.0.0.1:5432");
        e.stack = "Error: write CONNECTION_CLOSED\\n    at Socket.closed (file://" + DRIVER_DIR + "/src/connection.js:453:57)";
        Object.assign(e, { code: "CONNECTION_CLOSED" });
        void Promise.reject(e);
      }, 50);
      setTimeout(() => console.log("alive"), 300);`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      "contained uncaughtException TypeError undefined postgres/connection.js:255:22\n" +
        "contained unhandledRejection Error CONNECTION_CLOSED postgres/connection.js:453:57\nalive\n",
    );
    expect(r.stdout + r.stderr).not.toContain("sk_live_123");
  });

  it("any other uncaught exception or unhandled rejection stays fatal with Node's own report", { timeout: 70_000 }, () => {
    const thrown = child(`setImmediate(() => { throw new Error("a real bug"); }); setTimeout(() => console.log("alive"), 300);`);
    expect(thrown.status).toBe(1);
    expect(thrown.stdout).not.toContain("alive");
    expect(thrown.stderr).toContain("Error: a real bug");
    const rejected = child(`void Promise.reject(new RangeError("unhandled bug")); setTimeout(() => console.log("alive"), 300);`);
    expect(rejected.status).toBe(1);
    expect(rejected.stdout).not.toContain("alive");
    expect(rejected.stderr).toContain("RangeError: unhandled bug");
  });
});
