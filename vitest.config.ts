import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every API exchange the suites make is checked against the served OpenAPI document (test/contract/).
    setupFiles: ['./test/contract/setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    pool: 'forks',
    // Two cores: integration files each boot their own emulators; more workers only queue.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: { CDK_VALIDATION: 'false', POWERTOOLS_DEV: 'true' },
  },
});
