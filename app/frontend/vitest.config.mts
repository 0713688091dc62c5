import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The browser tier has its own config and command (vitest.config.browser.mts, npm run test:browser).
    exclude: ['tests/browser/**', 'node_modules/**'],
    environment: 'node',
  },
});
