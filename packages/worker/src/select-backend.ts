/// <reference types="@webgpu/types" />
/**
 * Backend selection: 'wasm' and 'webgpu' force one; 'auto' measures both on this device (calibrate.ts: a
 * transformer layer's matmul and elementwise shapes as a protocol step runs them, about 1.5 s per backend)
 * and takes the faster by calibrate.ts's rule, remembering the result per device and backend version (calibrate-cache.ts)
 * so a second start does not measure again. Without a WebGPU adapter there is nothing to compare and 'auto'
 * is WebAssembly at once. A fallback (software) adapter is measured like any other, not assumed slow.
 * `gpu` is navigator.gpu in browsers, or Dawn's GPU object in Node (packages/backend-webgpu/src/node.ts).
 */
import type { Backend } from '@puma/backend';
import { createWasmBackend } from '@puma/backend-wasm';
import { createWebGpuBackend, probeWebGpu } from '@puma/backend-webgpu';
import { DEFAULT_BUDGET_MS, DEFAULT_WORKLOAD, shapeSet, type CalibrationWorkload } from './calibrate.ts';
import { calibrateCandidates, type BackendCandidate } from './calibrate-candidates.ts';
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
  /** Milliseconds each backend's measuring may take (default 1.5 s). */
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

/** The real backends as calibration candidates (`gpu`: navigator.gpu or Dawn's GPU object). */
export function backendCandidates(gpu: GPU | undefined): { wasm: BackendCandidate; webgpu: BackendCandidate } {
  return { wasm: { kind: 'wasm', create: createWasmBackend }, webgpu: { kind: 'webgpu', create: () => createWebGpuBackend({ gpu }) } };
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
  const key = calibrationKey({ cpu: o.cpu ?? platformCpu(), adapter: probe.description, workload: shapeSet(workload) });
  const known = await o.cache?.get(key);
  if (known) {
    const backend = known.chosen === 'webgpu' ? await createWebGpuBackend({ gpu: o.gpu }) : await createWasmBackend();
    return { backend, choice, calibration: known, cached: true, summary: describeCalibration(known, true) };
  }
  const candidates = backendCandidates(o.gpu);
  const { backend, calibration } = await calibrateCandidates(workload, candidates.wasm, candidates.webgpu, key, { budgetMs: o.budgetMs ?? DEFAULT_BUDGET_MS });
  await o.cache?.set(key, calibration);
  return { backend, choice, calibration, cached: false, summary: describeCalibration(calibration, false) };
}

/** selectBackend without a cache, for callers that need only the backend. */
export async function createBackend(choice: BackendChoice, gpu?: GPU): Promise<Backend> {
  return (await selectBackend(choice, { gpu })).backend;
}
