/**
 * 'auto' backend selection in a browser (calibrate.browser.test.ts, beside this file): navigator.gpu (in
 * headless Chromium without a GPU, SwiftShader's fallback adapter) against WebAssembly, with the IndexedDB
 * cache the party worker uses. Three starts under a key unique to this page load: the first with a budget
 * long enough for a software adapter to build its pipelines (so its kernels are timed), the second must come
 * from IndexedDB, the third (another CPU in the key) measures again with the default budget. Then two starts
 * on a small GPT-2's shapes (selectBackendForModel, once a party knows the model): the first measures, the
 * second must come from IndexedDB.
 * Publishes `window.__calibration`.
 */
import { IdbCalibrationCache } from './calibrate-cache-idb.ts';
import { platformCpu, type Calibration } from './calibrate-cache.ts';
import { gpt2Config } from '@puma/models';
import { selectBackend } from './select-backend.ts';
import { selectBackendForModel } from './select-backend-model.ts';

export interface CalibrationPageReport {
  starts: Array<{ kind: string; cached: boolean; summary: string; calibration?: Calibration; ms: number }>;
  error?: string;
}

const LONG_BUDGET_MS = 90_000;

async function main(): Promise<CalibrationPageReport> {
  const cache = new IdbCalibrationCache();
  const run = `${platformCpu()} (page load ${crypto.randomUUID()})`;
  const starts: CalibrationPageReport['starts'] = [];
  for (const o of [{ cpu: run, budgetMs: LONG_BUDGET_MS }, { cpu: run }, { cpu: `${run} (another machine)` }]) {
    const t0 = performance.now();
    const s = await selectBackend('auto', { gpu: navigator.gpu, cache, ...o });
    starts.push({ kind: s.backend.kind, cached: s.cached, summary: s.summary, calibration: s.calibration, ms: performance.now() - t0 });
    (s.backend as { destroy?: () => void }).destroy?.();
  }
  const model = gpt2Config({ n_embd: 128, n_head: 4, n_layer: 4, n_positions: 256, vocab_size: 50257 });
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const s = await selectBackendForModel('auto', model, { gpu: navigator.gpu, cache, cpu: run });
    starts.push({ kind: s.backend.kind, cached: s.cached, summary: s.summary, calibration: s.calibration, ms: performance.now() - t0 });
    (s.backend as { destroy?: () => void }).destroy?.();
  }
  return { starts };
}

const publish = (r: CalibrationPageReport) => {
  (window as unknown as { __calibration: CalibrationPageReport }).__calibration = r;
  document.getElementById('status')!.textContent = r.error ? `failed: ${r.error}` : 'done';
};
main().then(publish, (e: unknown) => publish({ starts: [], error: e instanceof Error ? e.message : String(e) }));
