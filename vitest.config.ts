import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["./test/support/global-setup.ts"],
    // End-to-end tests share one daemon and build real containers.
    testTimeout: 180_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    reporters: ["default", "./test/support/summary-reporter.ts"],
  },
});
