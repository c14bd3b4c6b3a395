/**
 * Test harness for select-backend.test.ts: 'auto' selection through Dawn in this Node process (a real adapter
 * where there is one, SwiftShader otherwise), printed as one JSON line. A separate process because Dawn's
 * Vulkan loader must see LD_LIBRARY_PATH from process start (dawn-process.ts starts it so).
 * Three starts on one cache file with the default budget: a first start (measures), a second (must reuse),
 * and one whose CPU differs (a different device key: must measure again). Then one start without a cache and
 * with a budget long enough for a software adapter to compile its pipelines, so its kernels are timed too.
 * Last, two starts on a small GPT-2's shapes once its config is known (selectBackendForModel) on the same
 * file: the first measures (another shape set than the generic starts'), the second must reuse it.
 *
 *   node --import tsx packages/worker/src/calibrate-dawn-run.ts <cache file>
 */
import { nodeGpu } from '@puma/backend-webgpu/node';
import { gpt2Config } from '@puma/models';
import { FileCalibrationCache, nodeCpu } from './calibrate-cache-file.ts';
import { selectBackend } from './select-backend.ts';
import { selectBackendForModel } from './select-backend-model.ts';

/** Enough for SwiftShader to build every pipeline on a loaded 2-core machine (15 s quiet, 50 s at load 11, 141 s at load 17). */
export const LONG_BUDGET_MS = 200_000;

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: calibrate-dawn-run.ts <cache file>');
  const cache = new FileCalibrationCache(file);
  const gpu = nodeGpu();
  const starts = [];
  const runs: Array<{ cpu: string; cache?: FileCalibrationCache; budgetMs?: number }> = [
    { cpu: nodeCpu(), cache },
    { cpu: nodeCpu(), cache },
    { cpu: `${nodeCpu()} (another machine)`, cache },
    { cpu: nodeCpu(), budgetMs: LONG_BUDGET_MS },
  ];
  for (const r of runs) {
    const t0 = performance.now();
    const s = await selectBackend('auto', { gpu, ...r });
    starts.push({ kind: s.backend.kind, cached: s.cached, summary: s.summary, calibration: s.calibration, ms: performance.now() - t0 });
    (s.backend as { destroy?: () => void }).destroy?.();
  }
  // gpt2-shakespeare's shape: 128 wide, 4 heads, 512-wide MLP, GPT-2's vocabulary.
  const model = gpt2Config({ n_embd: 128, n_head: 4, n_layer: 4, n_positions: 256, vocab_size: 50257 });
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const s = await selectBackendForModel('auto', model, { gpu, cpu: nodeCpu(), cache });
    starts.push({ kind: s.backend.kind, cached: s.cached, summary: s.summary, calibration: s.calibration, ms: performance.now() - t0 });
    (s.backend as { destroy?: () => void }).destroy?.();
  }
  process.stdout.write(`${JSON.stringify({ starts })}\n`);
}

main().then(
  // Dawn keeps handles that hold the event loop open; the report is written, so leave now.
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
