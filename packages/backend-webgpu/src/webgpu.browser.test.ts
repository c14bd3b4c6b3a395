/**
 * The WebGPU backend in headless Chromium (SwiftShader, a fallback adapter, on machines without a GPU):
 * serves e2e/pages/webgpu-conformance.html with Vite's dev server on loopback, lets the page run every
 * conformance case plus the WebGPU-specific checks, and reports one test per case.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceCases } from '@puma/backend/conformance';
import { deviceLossCase, edgeCases, gpuErrorCase, rfcCases, splitCases, type CaseResult } from './selftest.ts';

const CHROMIUM = process.env.PUMA_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const PAGE = 'e2e/pages/webgpu-conformance.html';
const ARGS = [
  '--no-sandbox',
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

interface Report {
  probe: { available: boolean; isFallbackAdapter: boolean; description: string };
  description?: string;
  results: CaseResult[];
  error?: string;
  totalMs: number;
}

let server: ViteDevServer | undefined;
let browser: Browser | undefined;
let report: Report | undefined;
const pageErrors: string[] = [];

const names = [...conformanceCases(), ...rfcCases(), ...edgeCases(), ...splitCases(), gpuErrorCase(), deviceLossCase()].map((c) => c.name);

describe('WebGPU backend in headless Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium or set PUMA_CHROMIUM`);
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
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    const page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(new URL(PAGE, base).href);
    try {
      await page.waitForFunction(() => window.__webgpuConformance !== undefined, null, { timeout: 110_000, polling: 250 });
    } catch (e) {
      throw new Error(`the page published no report (${(e as Error).message}); page errors: ${pageErrors.join('; ') || 'none'}`);
    }
    report = (await page.evaluate(() => window.__webgpuConformance)) as Report;
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('finds a WebGPU adapter and builds every pipeline', () => {
    expect(report, `page errors: ${pageErrors.join('; ')}`).toBeDefined();
    expect(report!.error).toBeUndefined();
    expect(report!.probe.available).toBe(true);
    expect(report!.description).toMatch(/^WebGPU: /);
    expect(report!.description!.endsWith('(fallback adapter)')).toBe(report!.probe.isFallbackAdapter);
    expect(report!.results.map((r) => r.name)).toEqual(names);
  });

  for (const name of names) {
    it(name, () => {
      const r = report?.results.find((x) => x.name === name);
      expect(r, 'case did not run').toBeDefined();
      expect(r!.error ?? '').toBe('');
      expect(r!.ok).toBe(true);
    });
  }
});
