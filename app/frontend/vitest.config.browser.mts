import { defineConfig } from 'vitest/config';

// The browser tier: Debian's Chromium driven by playwright-core against the real apps
// (`npm run test:browser`; see tests/browser/global-setup.ts). The test files share one
// Chromium and one demo user's list, so they run one at a time.
export default defineConfig({
  test: {
    include: ['tests/browser/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['tests/browser/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
