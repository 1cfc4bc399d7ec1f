import { defineConfig } from "vitest/config";

// Fast tests of the pure stages: no daemon, no registry (`npm run test:unit`).
export default defineConfig({
  test: {
    // A loaded machine must not fail a test for being slow: tests wait on events, not on time.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    include: ["test/unit/**/*.test.ts", "test/llb/**/*.test.ts"],
  },
});
