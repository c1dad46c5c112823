/**
 * vitest settings for every suite under test/. CI machines have 2 cores: two worker
 * processes (forks: isolated, safe for suites that start worker threads or load wasm).
 * Timeouts are generous because some suites compile kernels or spawn node; no test asserts
 * on time.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "dist/**"],
    environment: "node",
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
