/// <reference types="@webgpu/types" />
/**
 * Backend selection: 'wasm' and 'webgpu' force one; 'auto' measures both on this device (calibrate.ts: the
 * model's matmul and elementwise shapes as a protocol step runs them, within about 1.5 s) and takes the
 * faster by calibrate.ts's rule, remembering the result per device and backend version (calibrate-cache.ts)
 * so a second start does not measure again. Without a WebGPU adapter there is nothing to compare and 'auto'
 * is WebAssembly at once. A fallback (software) adapter is measured like any other, not assumed slow.
 * `gpu` is navigator.gpu in browsers, or Dawn's GPU object in Node (packages/backend-webgpu/src/node.ts).
 */
import type { Backend } from '@puma/backend';
import { createWasmBackend } from '@puma/backend-wasm';
import { createWebGpuBackend, probeWebGpu, type WebGpuBackend } from '@puma/backend-webgpu';
import {
  CALIBRATION_RULE, DEFAULT_BUDGET_MS, DEFAULT_WORKLOAD, WEBGPU_MARGIN, decideBackend, measureBackend, settlesWithin, type BackendFigures, type CalibrationWorkload,
} from './calibrate.ts';
import { calibrationKey, describeCalibration, platformCpu, type Calibration, type CalibrationCache } from './calibrate-cache.ts';

export type BackendChoice = 'wasm' | 'webgpu' | 'auto';

export function parseBackendChoice(s: string | null | undefined): BackendChoice {
  const v = (s ?? 'auto').toLowerCase();
  if (v === 'wasm' || v === 'webgpu' || v === 'auto') return v;
  throw new Error(`unknown backend "${s}"; choose wasm, webgpu or auto`);
}

export interface SelectBackendOptions {
  gpu?: GPU;
  /** Where calibrations are remembered; without one, 'auto' measures on every call. */
  cache?: CalibrationCache;
  /** Shapes to time (default: a GPT-2-base layer at 32 tokens, for when the model is not known yet). */
  workload?: CalibrationWorkload;
  budgetMs?: number;
  /** The CPU for the device key (default: what the platform's navigator says). */
  cpu?: string;
}

export interface BackendSelection {
  backend: Backend;
  choice: BackendChoice;
  /** The calibration behind an 'auto' choice between two available backends. */
  calibration?: Calibration;
  /** Whether that calibration came from the cache. */
  cached: boolean;
  /** One line for people (party page state, CLI stderr). */
  summary: string;
}

const kindName = (k: string) => (k === 'webgpu' ? 'WebGPU' : 'WebAssembly');

/** Measures both backends and keeps the faster; the other is freed. */
async function calibrate(gpu: GPU | undefined, workload: CalibrationWorkload, budgetMs: number, key: string): Promise<{ backend: Backend; calibration: Calibration }> {
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  const wasm = await createWasmBackend();
  let wasmFig = await measureBackend(wasm, workload, { deadline });
  // On a slow machine or a huge model WebAssembly may not finish every shape: compare on those it did.
  const compared = wasmFig.complete ? workload : { ...workload, shapes: workload.shapes.filter((_, i) => wasmFig.shapeMs[i].ms !== null) };
  if (!wasmFig.complete) wasmFig = { ...wasmFig, shapeMs: wasmFig.shapeMs.filter((s) => s.ms !== null), complete: true, stopped: `compared on ${compared.shapes.length} of ${workload.shapes.length} shapes (budget)` };
  let gpuBackend: WebGpuBackend | null = null;
  let gpuFig: BackendFigures | null = null;
  let gpuError = '';
  const creating = createWebGpuBackend({ gpu });
  const startT0 = performance.now();
  try {
    if (await settlesWithin(creating, deadline - startT0)) {
      gpuBackend = await creating;
      const startupMs = performance.now() - startT0;
      const measured = await measureBackend(gpuBackend, compared, { deadline, beatMs: WEBGPU_MARGIN * wasmFig.totalMs });
      if (measured.abandoned) {
        // Work of an abandoned step may still be queued: this device is not used for anything else.
        gpuBackend.destroy();
        gpuBackend = null;
      }
      gpuFig = { ...measured, startupMs };
    } else {
      // Still compiling its pipelines when the budget ran out; freed once it is ready.
      creating.then((b) => b.destroy(), () => {});
      const startupMs = performance.now() - startT0;
      gpuFig = {
        kind: 'webgpu', description: 'WebGPU', shapeMs: compared.shapes.map((s) => ({ name: s.name, ms: null })), totalMs: 0, complete: false, startupMs,
        stopped: `its device and pipelines were not ready after ${startupMs.toFixed(0)} ms`,
      };
    }
  } catch (e) {
    gpuError = e instanceof Error ? e.message : String(e);
  }
  const decision = decideBackend(wasmFig, gpuFig);
  const reason = gpuError ? `${decision.reason} (${gpuError})` : decision.reason;
  if (decision.chosen !== 'webgpu') gpuBackend?.destroy();
  const calibration: Calibration = {
    key, workload: workload.name, chosen: decision.chosen, rule: CALIBRATION_RULE, reason,
    figures: gpuFig ? [wasmFig, gpuFig] : [wasmFig], measuredAt: new Date().toISOString(), calibrationMs: performance.now() - t0,
  };
  return { backend: decision.chosen === 'webgpu' ? gpuBackend! : wasm, calibration };
}

export async function selectBackend(choice: BackendChoice, o: SelectBackendOptions = {}): Promise<BackendSelection> {
  if (choice === 'wasm' || choice === 'webgpu') {
    const backend = choice === 'wasm' ? await createWasmBackend() : await createWebGpuBackend({ gpu: o.gpu });
    return { backend, choice, cached: false, summary: `${kindName(choice)} (chosen explicitly): ${backend.description}` };
  }
  const probe = await probeWebGpu(o.gpu);
  if (!probe.available) {
    return { backend: await createWasmBackend(), choice, cached: false, summary: `auto → WebAssembly: nothing to compare with (${probe.description})` };
  }
  const workload = o.workload ?? DEFAULT_WORKLOAD;
  const key = calibrationKey({ cpu: o.cpu ?? platformCpu(), adapter: probe.description, workload: workload.name });
  const known = await o.cache?.get(key);
  if (known) {
    const backend = known.chosen === 'webgpu' ? await createWebGpuBackend({ gpu: o.gpu }) : await createWasmBackend();
    return { backend, choice, calibration: known, cached: true, summary: describeCalibration(known, true) };
  }
  const { backend, calibration } = await calibrate(o.gpu, workload, o.budgetMs ?? DEFAULT_BUDGET_MS, key);
  await o.cache?.set(key, calibration);
  return { backend, choice, calibration, cached: false, summary: describeCalibration(calibration, false) };
}

/** selectBackend without a cache, for callers that need only the backend. */
export async function createBackend(choice: BackendChoice, gpu?: GPU): Promise<Backend> {
  return (await selectBackend(choice, { gpu })).backend;
}
