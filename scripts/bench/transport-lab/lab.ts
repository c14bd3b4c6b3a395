/**
 * Test and bench rig for the WebRTC transport in browsers: a coordinator, Vite's dev server serving
 * page.html (beside this file), and headless Chromium whose tabs each get their own context (with the microphone
 * permission, without which Chromium gathers no loopback ICE candidate). Everything listens on 127.0.0.1 only
 * and close() releases all of it. Node-only; used by scripts/bench/transport.ts and apps/coordinator/src/browser.test.ts.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { CHROMIUM, CHROMIUM_ARGS } from '@puma/backend-webgpu/chromium';
import { startCoordinator, type Coordinator } from '@puma/coordinator';
import type { TransportPageApi } from './page.ts';

const LAB_ARGS = ['--headless=new', ...CHROMIUM_ARGS];
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PAGE = 'scripts/bench/transport-lab/page.html';
const PAGE_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 60_000;

type Api = TransportPageApi;

export interface TransportTab {
  readonly page: Page;
  /** Uncaught page errors and console errors, for failure messages. */
  readonly errors: string[];
  /** Calls window.pumaTransport[method](...args) in the tab, failing after `CALL_TIMEOUT_MS`. */
  call<K extends keyof Api>(method: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<Api[K]>>>;
  close(): Promise<void>;
}

export interface TransportLab {
  readonly coordinator: Coordinator;
  readonly browser: Browser;
  /**
   * Opens a tab in its own context of the lab's browser, or with `ownBrowser` in a browser of its own (as the
   * browsers bench runs each role), so that its WebRTC packets cross two browsers' network services.
   */
  openTab(o?: { ownBrowser?: boolean }): Promise<TransportTab>;
  close(): Promise<void>;
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

export async function startTransportLab(): Promise<TransportLab> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium or set PUMA_CHROMIUM`);
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'puma-vite-'));
  const coordinator = await startCoordinator();
  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  const contexts = new Set<BrowserContext>();
  const ownBrowsers = new Set<Browser>();

  const close = async () => {
    await Promise.allSettled([...contexts].map((c) => c.close()));
    await Promise.allSettled([...ownBrowsers].map((b) => b.close()));
    await browser?.close().catch(() => {});
    await server?.close().catch(() => {});
    await coordinator.close();
    await rm(cacheDir, { recursive: true, force: true });
  };

  let base: string;
  try {
    server = await createServer({
      root: ROOT,
      configFile: false,
      cacheDir,
      logLevel: 'error',
      clearScreen: false,
      server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false, ws: false, watch: null },
      // peerjs's browser build pulls in CommonJS helpers, so it is pre-bundled once at startup (and only it,
      // so no late dependency discovery reloads a page mid-test).
      optimizeDeps: { noDiscovery: true, include: ['peerjs'] },
    });
    await server.listen();
    const url = server.resolvedUrls?.local[0];
    if (!url) throw new Error('Vite dev server did not report a URL');
    base = url;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAB_ARGS, headless: true, timeout: 30_000 });
  } catch (e) {
    await close();
    throw e;
  }
  const launched = browser;

  return {
    coordinator,
    browser: launched,
    close,
    async openTab(o = {}): Promise<TransportTab> {
      let own: Browser | undefined;
      if (o.ownBrowser) {
        own = await chromium.launch({ executablePath: CHROMIUM, args: LAB_ARGS, headless: true, timeout: 30_000 });
        ownBrowsers.add(own);
      }
      const context = await (own ?? launched).newContext();
      contexts.add(context);
      await context.grantPermissions(['microphone']);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        // Vite's client script retries its HMR socket, which this rig turns off; that noise is not the page's.
        if (m.type() === 'error' && !m.location().url.includes('/@vite/client')) errors.push(m.text());
      });
      await page.goto(new URL(PAGE, base).href, { timeout: PAGE_TIMEOUT_MS });
      try {
        await page.waitForFunction(() => window.pumaTransport !== undefined, null, { timeout: PAGE_TIMEOUT_MS, polling: 100 });
      } catch (e) {
        throw new Error(`transport page did not load (${(e as Error).message}); page errors: ${errors.join('; ') || 'none'}`);
      }
      return {
        page,
        errors,
        call(method, ...args) {
          const run = page.evaluate(([m, a]) => (window.pumaTransport as unknown as Record<string, (...x: unknown[]) => unknown>)[m](...a), [
            method,
            args,
          ] as [string, unknown[]]);
          return withTimeout(run as Promise<never>, CALL_TIMEOUT_MS, `tab call ${String(method)}`);
        },
        async close() {
          contexts.delete(context);
          await context.close();
          if (own) {
            ownBrowsers.delete(own);
            await own.close();
          }
        },
      };
    },
  };
}
