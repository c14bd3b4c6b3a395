/**
 * Runs the shared backend conformance cases and the WebGPU-specific checks (RFC 8439 vectors through the GPU
 * prg, zero-length and argument edge cases, and the binding-splitting paths on a backend told to use tiny
 * bindings) in this page, then publishes the outcome as `window.__webgpuConformance` for the test driver.
 */
import { conformanceCases } from '@puma/backend/conformance';
import { createWebGpuBackend, probeWebGpu, type WebGpuProbe } from '@puma/backend-webgpu';
import { deviceLossCase, edgeCases, errorCases, rfcCases, runCases, splitCases, SPLIT_OPTIONS, type CaseResult } from '@puma/backend-webgpu/selftest';

export interface WebGpuConformanceReport {
  probe: WebGpuProbe;
  description?: string;
  results: CaseResult[];
  /** Set when the run could not start (no adapter, shader compilation failure). */
  error?: string;
  totalMs: number;
}

declare global {
  interface Window {
    __webgpuConformance?: WebGpuConformanceReport;
  }
}

async function run(): Promise<WebGpuConformanceReport> {
  const t0 = performance.now();
  const probe = await probeWebGpu();
  try {
    const be = await createWebGpuBackend();
    const results = await runCases(be, [...conformanceCases(), ...rfcCases(), ...edgeCases()]);
    // Same device, so the second backend reuses the compiled pipelines instead of building them again.
    const small = await createWebGpuBackend({ device: be.device, ...SPLIT_OPTIONS });
    results.push(...(await runCases(small, splitCases())));
    small.destroy();
    results.push(...(await runCases(be, [...errorCases(), deviceLossCase()])));
    return { probe, description: be.description, results, totalMs: performance.now() - t0 };
  } catch (e) {
    return { probe, results: [], error: e instanceof Error ? e.message : String(e), totalMs: performance.now() - t0 };
  }
}

void run().then((report) => {
  const failed = report.results.filter((r) => !r.ok).length;
  document.getElementById('status')!.textContent = report.error
    ? `could not run: ${report.error}`
    : `${report.results.length - failed} of ${report.results.length} cases passed on ${report.description}`;
  window.__webgpuConformance = report;
});
