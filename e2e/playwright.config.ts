/**
 * End-to-end suite: the built party, client and owner pages in Debian's headless Chromium, with a coordinator
 * started by the tests on 127.0.0.1. One worker (the tabs of a session must run together, on a 2-core machine),
 * bounded timeouts everywhere. globalSetup builds the pages first.
 */
import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from '@puma/backend-webgpu/chromium';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  globalSetup: './global-setup.ts',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 240_000,
  globalTimeout: 900_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  outputDir: '../test-results/e2e',
  use: {
    headless: true,
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    launchOptions: {
      executablePath: CHROMIUM,
      timeout: 30_000,
      args: CHROMIUM_ARGS,
    },
  },
});
