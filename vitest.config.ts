import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Starts one real PostgreSQL for the whole run (or uses TEST_DATABASE_URL); each test file then
    // creates its own database in it (test/helpers/db.ts), which is what makes files safe to run in parallel.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default in run mode is cores - 1, i.e. a single worker on the 2-core CI machine.
    maxWorkers: Math.max(2, os.availableParallelism()),
  },
});
