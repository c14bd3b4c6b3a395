/**
 * The WebGPU backend in headless Chromium (SwiftShader, a fallback adapter, on machines without a GPU):
 * serves webgpu-conformance.page.html (beside this file) with Vite's dev server on loopback, lets the page run every
 * conformance case plus the WebGPU-specific checks, and reports one test per case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformanceCases } from '@puma/backend/conformance';
import type { WebGpuConformanceReport as Report } from './webgpu-conformance.page.ts';
import { startBrowserHarness, type BrowserHarness } from './browser-harness.ts';
import { deviceLossCase, edgeCases, errorCases, rfcCases, splitCases } from './selftest.ts';

let harness: BrowserHarness | undefined;
let report: Report | undefined;
let pageErrors: string[] = [];

const names = [...conformanceCases(), ...rfcCases(), ...edgeCases(), ...splitCases(), ...errorCases(), deviceLossCase()].map((c) => c.name);

describe('WebGPU backend in headless Chromium', () => {
  beforeAll(async () => {
    harness = await startBrowserHarness();
    ({ report, pageErrors } = await harness.run<Report>('packages/backend-webgpu/src/webgpu-conformance.page.html', '__webgpuConformance', 110_000));
  }, 150_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('finds a WebGPU adapter and builds every pipeline', () => {
    expect(report, `page errors: ${pageErrors.join('; ')}`).toBeDefined();
    expect(report!.error, `could not run (${report!.probe.description}); page errors: ${pageErrors.join('; ') || 'none'}`).toBeUndefined();
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
