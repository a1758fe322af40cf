/** The one place that reads the process environment (docs/architecture.md#habits). */
export function processEnv(): Record<string, string | undefined> {
  return { ...process.env };
}
