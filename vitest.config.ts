import { defineConfig } from "vitest/config";

export default defineConfig({
  // The @talos/* packages export their TypeScript sources under the "development" condition and
  // dist/ otherwise; tests always run the sources, whatever NODE_ENV says and whether dist/ exists.
  // No "module" condition: it picks builds such as OpenTelemetry's build/esm, whose extensionless imports Node cannot load.
  ssr: { resolve: { conditions: ["node", "development"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "apps/*/src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    // generous: a beforeAll that starts a server and migrates can take over a minute on a busy 2-core machine
    hookTimeout: 180_000,
    pool: "forks",
    // under CI=true, any skipped test or `!!! SKIPPED` line fails the run (test/support/no-skips-reporter.ts)
    reporters: ["default", "./test/support/no-skips-reporter.ts"],
  },
});
