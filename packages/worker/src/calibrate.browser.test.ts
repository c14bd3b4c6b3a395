/**
 * 'auto' backend selection in headless Chromium (calibrate.page.ts): the WebGPU adapter there (SwiftShader,
 * a fallback adapter, on machines without a GPU) is measured against WebAssembly, the choice follows the rule
 * on the measured figures, and the IndexedDB cache serves a second start and not a different device key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserHarness, type BrowserHarness } from '@puma/backend-webgpu/browser-harness';
import { decideBackend } from './calibrate.ts';
import type { CalibrationPageReport } from './calibrate.page.ts';

let harness: BrowserHarness | undefined;
let report: CalibrationPageReport | undefined;
let pageErrors: string[] = [];

describe("'auto' backend selection in a browser (headless Chromium, IndexedDB cache)", () => {
  beforeAll(async () => {
    harness = await startBrowserHarness();
    ({ report, pageErrors } = await harness.run<CalibrationPageReport>('packages/worker/src/calibrate.page.html', '__calibration', 150_000));
    for (const s of report.starts) console.log(`${Math.round(s.ms)} ms: ${s.summary}`);
  }, 180_000);
  afterAll(async () => {
    await harness?.close();
  });

  it('measures the adapter, fallback or not, and follows the rule on its figures', () => {
    expect(report!.error, `page errors: ${pageErrors.join('; ') || 'none'}`).toBeUndefined();
    const first = report!.starts[0];
    expect(first.cached).toBe(false);
    const [wasm, gpu] = first.calibration!.figures;
    expect(wasm.kind).toBe('wasm');
    expect(gpu?.kind, first.summary).toBe('webgpu');
    expect(gpu.shapeMs[0].ms, gpu.stopped).toBeGreaterThan(0);
    expect(first.calibration!.chosen).toBe(decideBackend(wasm, gpu).chosen);
    expect(first.kind).toBe(first.calibration!.chosen);
  });

  it('a second start on the same device takes the choice from IndexedDB', () => {
    const [first, second] = report!.starts;
    expect(second.cached).toBe(true);
    expect(second.calibration).toEqual(first.calibration);
    expect(second.summary).toMatch(/cached from/);
  });

  it('another device key measures again, within about the default budget', () => {
    const third = report!.starts[2];
    expect(third.cached).toBe(false);
    expect(third.calibration!.key).not.toBe(report!.starts[0].calibration!.key);
    expect(third.calibration!.calibrationMs).toBeLessThan(6_000);
  });
  it('once the model is known, its shapes are measured against WebGPU, and a second start takes them from IndexedDB', () => {
    const [model, again] = report!.starts.slice(3);
    expect(model.cached).toBe(false);
    expect(model.calibration!.workload).toBe('gpt2 4×128@32');
    expect(model.calibration!.figures.map((f) => f.kind), model.summary).toEqual(['wasm', 'webgpu']);
    expect(model.calibration!.key).not.toBe(report!.starts[0].calibration!.key);
    expect(again.cached).toBe(true);
    expect(again.calibration).toEqual(model.calibration);
  });
});
