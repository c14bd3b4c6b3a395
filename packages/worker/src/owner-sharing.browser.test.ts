/**
 * The model owner's sharing in a Web Worker, in headless Chromium (owner-sharing.page.ts, beside this file):
 * an 11 M-weight GPT-2-like model is shared in the worker while a long-task observer watches the page's main
 * thread, then on the main thread as a control. The worker's run must leave no main-thread task over 100 ms
 * and deliver shares whose parts match their sha256 and whose components sum to the encoded weights. A model
 * given to the worker as Files (Hugging Face F16 folder) is loaded there, passes the owner's domain check there
 * (nothing is shared before it) and shares the same weights with the norm windows the check published.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserHarness, type BrowserHarness } from '@puma/backend-webgpu/browser-harness';
import type { OwnerSharingReport } from './owner-sharing.page.ts';

let harness: BrowserHarness | undefined;
let report: OwnerSharingReport = {};
let pageErrors: string[] = [];

describe('owner sharing in a Web Worker (headless Chromium)', () => {
  beforeAll(async () => {
    harness = await startBrowserHarness();
    ({ report, pageErrors } = await harness.run<OwnerSharingReport>('packages/worker/src/owner-sharing.page.html', '__ownerSharing', 150_000));
  }, 180_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('shares in the worker with no main-thread task over 100 ms, reporting progress to the last part', () => {
    expect(report.error, `page errors: ${pageErrors.join('; ') || 'none'}`).toBeUndefined();
    const w = report.worker!;
    expect(w.longestTaskMs, `longest main-thread task while the worker shared (${w.ms.toFixed(0)} ms in all)`).toBeLessThanOrEqual(100);
    expect(w.progressCalls).toBeGreaterThan(10);
    expect(w.lastProgress).toEqual([report.parts, report.parts]);
    expect(report.modelDetached, 'transferModel moves the weights instead of copying them').toBe(true);
  });

  it('the control: the same sharing on the main thread shows up as long tasks, so the observer sees blocking work', () => {
    expect(report.mainThread!.longestTaskMs).toBeGreaterThan(100);
  });

  it("the worker's shares verify against their manifests and sum to the encoded weights", () => {
    expect(report.parts).toBeGreaterThan(50);
    expect(report.reconstructed).toEqual([
      { name: 'l1.qkv.b', elements: 768, equal: true },
      { name: 'final.scale', elements: 256, equal: true },
    ]);
  });

  it('a NaN weight fails the worker with an error naming the tensor and position', () => {
    expect(report.nanError).toMatch(/cannot encode l2\.up\.w\[5\] = NaN as fixed point/);
  });

  it('a model given as Files is loaded in the worker: its sharing sums to the weights the page reads from the same files', () => {
    expect(report.fromFiles).toMatchObject({ modelId: 'model', description: 'model (llama, Hugging Face safetensors)', tokenizer: false, configHashMatches: true, hashShape: true });
    expect(report.fromFiles!.parts).toBeGreaterThan(20);
    for (const r of report.fromFiles!.reconstructed) expect(r.equal, r.name).toBe(true);
    // Shared only after the owner's domain check, with the norm windows it gave (2 layers, 2 norms each, and the final norm).
    expect(report.fromFiles!.uncheckedShareError).toMatch(/has not passed the owner's domain check/);
    expect(report.fromFiles).toMatchObject({ domainOutcome: 'inside', windowedNorms: 5, manifestsCarryWindows: true });
    expect(report.noWeightsError).toMatch(/^no model weights among tok512\.bin/);
  });
});
