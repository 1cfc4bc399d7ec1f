import { defineConfig } from "vitest/config";

// Fast tests of the pure stages: no daemon, no registry (`npm run test:unit`).
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts", "test/llb/**/*.test.ts"],
  },
});
