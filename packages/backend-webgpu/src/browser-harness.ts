/**
 * Test harness shared by the browser tests of this package: serves the repository with Vite's dev server on
 * loopback, opens a test page (a path under the repository root) in headless Chromium with WebGPU enabled
 * (SwiftShader, a fallback adapter, on machines without a GPU) and waits for the page to publish its report
 * on `window`.
 * Only test files import it: this package's and the mixed-backend test in packages/worker
 * (as `@puma/backend-webgpu/browser-harness`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ARGS = ['--headless=new', ...CHROMIUM_ARGS];

export interface PageReport<R> {
  report: R;
  /** Uncaught exceptions and console errors the page produced while running. */
  pageErrors: string[];
}

export interface BrowserHarness {
  /** Opens `page` (a path under the repository root), waits up to `timeoutMs` for `window[globalName]`. */
  run<R>(page: string, globalName: string, timeoutMs: number): Promise<PageReport<R>>;
  close(): Promise<void>;
}

export async function startBrowserHarness(): Promise<BrowserHarness> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium or set PUMA_CHROMIUM`);
  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.close();
  };
  try {
    server = await createServer({
      root: ROOT,
      configFile: false,
      logLevel: 'error',
      clearScreen: false,
      server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false, ws: false, watch: null },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await server.listen();
    const base = server.resolvedUrls?.local[0];
    if (!base) throw new Error('Vite dev server did not report a URL');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 30_000 });
    const b = browser;
    return {
      close,
      async run<R>(path: string, globalName: string, timeoutMs: number): Promise<PageReport<R>> {
        const page = await b.newPage();
        const pageErrors: string[] = [];
        page.on('pageerror', (e) => pageErrors.push(e.message));
        page.on('console', (m) => {
          if (m.type() === 'error') pageErrors.push(m.text());
        });
        try {
          await page.goto(new URL(path, base).href);
          try {
            await page.waitForFunction((name) => (window as unknown as Record<string, unknown>)[name] !== undefined, globalName, { timeout: timeoutMs, polling: 250 });
          } catch (e) {
            throw new Error(`${path} published no report in ${timeoutMs} ms (${(e as Error).message}); page errors: ${pageErrors.join('; ') || 'none'}`);
          }
          const report = (await page.evaluate((name) => (window as unknown as Record<string, unknown>)[name], globalName)) as R;
          return { report, pageErrors };
        } finally {
          await page.close();
        }
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}
