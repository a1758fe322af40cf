/** The one place that reads the process environment (DESIGN.md habit 5). */
export function processEnv(): Record<string, string | undefined> {
  return { ...process.env };
}
