/// <reference types="@webgpu/types" />
/**
 * 'auto' on the model's own shapes (issue 12): once a party knows the model (the owner's manifest carries its
 * config), time the session's matmul and elementwise shapes (calibrate.ts workloadForModel: Q/K/V, MLP up,
 * attention scores, the widest activation, the LM head on one row) on WebAssembly and WebGPU, each within its
 * budget (2 s by default), and keep the faster by calibrate.ts's rule. The result is cached per device (CPU,
 * adapter, backend versions) and shape set: a second party start for the same shapes takes the cached choice
 * without measuring; another model's shapes measure again. selectBackend (select-backend.ts) is the same on
 * generic shapes, for a party that must hold a backend before the manifest arrives.
 */
import type { ModelConfig } from '@puma/models';
import { probeWebGpu } from '@puma/backend-webgpu';
import { shapeSet, workloadForModel } from './calibrate.ts';
import { calibrateCandidates, type BackendCandidate, type MeasureBackend } from './calibrate-candidates.ts';
import { calibrationKey, describeCalibration, platformCpu, type CalibrationCache } from './calibrate-cache.ts';
import { backendCandidates, selectBackend, type BackendChoice, type BackendSelection } from './select-backend.ts';

/** Per backend: enough for a 7B layer's capped shapes on WebAssembly, short next to a weight download. */
export const MODEL_BUDGET_MS = 2000;

export interface ModelBackendCandidates {
  wasm: BackendCandidate;
  /** Absent without a WebGPU adapter: then WebAssembly is taken without measuring. */
  webgpu?: BackendCandidate;
  /** The device for the cache key: the CPU and the WebGPU adapter as probed. */
  device: { cpu: string; adapter: string };
}

export interface ChooseForModelOptions {
  /** Prompt rows the shapes are taken at (default 32, or the model's maxPositions if smaller). */
  tokens?: number;
  budgetMs?: number;
  /** calibrate.ts's measureBackend unless a test injects figures. */
  measure?: MeasureBackend;
}

/** The model's shapes as calibrate.ts times them. */
export function modelWorkload(config: ModelConfig, tokens?: number) {
  return workloadForModel(config, tokens ?? Math.min(32, config.maxPositions), `${config.arch} ${config.numLayers}×${config.hiddenSize}`);
}

/**
 * Chooses between the candidates on `config`'s shapes, from the cache when this device measured the same
 * shapes before, else by measuring (and then remembering the result in `cache`).
 */
export async function chooseBackendForModel(
  config: ModelConfig,
  candidates: ModelBackendCandidates,
  cache: CalibrationCache | undefined,
  o: ChooseForModelOptions = {},
): Promise<BackendSelection> {
  const workload = modelWorkload(config, o.tokens);
  if (!candidates.webgpu) {
    return { backend: await candidates.wasm.create(), choice: 'auto', cached: false, summary: `auto → WebAssembly: nothing to compare with (${candidates.device.adapter})` };
  }
  const key = calibrationKey({ ...candidates.device, workload: shapeSet(workload) });
  const known = await cache?.get(key);
  if (known) {
    const backend = await (known.chosen === 'webgpu' ? candidates.webgpu : candidates.wasm).create();
    return { backend, choice: 'auto', calibration: known, cached: true, summary: describeCalibration(known, true) };
  }
  const { backend, calibration } = await calibrateCandidates(workload, candidates.wasm, candidates.webgpu, key, {
    budgetMs: o.budgetMs ?? MODEL_BUDGET_MS, measure: o.measure,
  });
  await cache?.set(key, calibration);
  return { backend, choice: 'auto', calibration, cached: false, summary: describeCalibration(calibration, false) };
}

export interface SelectForModelOptions extends ChooseForModelOptions {
  gpu?: GPU;
  cache?: CalibrationCache;
  /** The CPU for the device key (default: what the platform's navigator says). */
  cpu?: string;
}

/**
 * What a party runtime calls once it has the manifest: an explicit choice wins; 'auto' probes the adapter and
 * chooses on the model's shapes (chooseBackendForModel with the real backends).
 */
export async function selectBackendForModel(choice: BackendChoice, config: ModelConfig, o: SelectForModelOptions = {}): Promise<BackendSelection> {
  if (choice !== 'auto') return selectBackend(choice, { gpu: o.gpu });
  const probe = await probeWebGpu(o.gpu);
  const real = backendCandidates(o.gpu);
  const candidates: ModelBackendCandidates = {
    wasm: real.wasm, webgpu: probe.available ? real.webgpu : undefined, device: { cpu: o.cpu ?? platformCpu(), adapter: probe.description },
  };
  return chooseBackendForModel(config, candidates, o.cache, o);
}
