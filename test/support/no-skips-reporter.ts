/**
 * Under CI (CI=true, which .ci/run sets) nothing may be skipped: CI provides PostgreSQL, Redis and
 * nginx, so a `!!! SKIPPED` line or a skipped test means a service is missing or a gate is wrong.
 * Outside CI this reporter stays silent and skips pass, loudly, as the README says.
 */
import type { UserConsoleLog } from "vitest";
import type { Reporter, TestModule } from "vitest/node";

const MARK = "!!! SKIPPED";

export function ciEnforcesNoSkips(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = (env.CI ?? "").toLowerCase();
  return ci !== "" && ci !== "0" && ci !== "false";
}

/** Every skipped test of a run (a suite skipped with describe.skipIf reports its tests as skipped). */
export function skippedTests(modules: ReadonlyArray<TestModule>): string[] {
  const out: string[] = [];
  for (const m of modules) {
    for (const t of m.children.allTests()) if (t.result().state === "skipped") out.push(`${m.relativeModuleId} > ${t.fullName}`);
  }
  return out;
}

export default class NoSkipsReporter implements Reporter {
  private readonly lines: string[] = [];

  onUserConsoleLog(log: UserConsoleLog): void {
    for (const line of log.content.split("\n")) if (line.includes(MARK)) this.lines.push(line.trim());
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (!ciEnforcesNoSkips()) return;
    const skipped = skippedTests(modules);
    if (this.lines.length === 0 && skipped.length === 0) return;
    const out = [`\nCI=true and the run skipped something; CI must run every test (see README, "Tests"):`];
    for (const l of new Set(this.lines)) out.push(`  ${l}`);
    for (const t of skipped.slice(0, 20)) out.push(`  skipped: ${t}`);
    if (skipped.length > 20) out.push(`  … and ${skipped.length - 20} more skipped tests`);
    process.stderr.write(`${out.join("\n")}\n`);
    process.exitCode = 1;
  }
}
