import { describe, expect, it } from 'vitest';
import type { Backend } from '@puma/backend';
import { createWasmBackend } from '@puma/backend-wasm';
import type { ModelConfig } from '@puma/models';
import { WEBGPU_MARGIN, type BackendFigures, type CalibrationShape, type CalibrationWorkload } from './calibrate.ts';
import type { MeasureBackend } from './calibrate-candidates.ts';
import { MemoryCalibrationCache } from './calibrate-cache.ts';
import { chooseBackendForModel, modelWorkload, selectBackendForModel, type ModelBackendCandidates } from './select-backend-model.ts';

/** stories260K's shapes (llama2.c): 64 wide, 8 heads of 8 over 4 KV heads, SwiGLU 172, vocabulary 512. */
const STORIES: ModelConfig = {
  arch: 'llama', vocabSize: 512, hiddenSize: 64, numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8, intermediateSize: 172, maxPositions: 512,
  typeVocabSize: 0, norm: 'rmsnorm', normEps: 1e-5, normPlacement: 'pre', mlp: 'swiglu', activation: 'silu', positions: 'rope', ropeTheta: 10000,
  causal: true, tiedHead: true, numLabels: 0,
};
/** A GPT-2-small-like layer: another shape set. */
const GPT2ISH: ModelConfig = {
  ...STORIES, arch: 'gpt2', vocabSize: 50257, hiddenSize: 128, numHeads: 4, numKvHeads: 4, headDim: 32, intermediateSize: 512, maxPositions: 1024,
  norm: 'layernorm', mlp: 'dense', activation: 'gelu', positions: 'learned',
};

/** Multiply-adds (or elementwise words) of one shape: what a fake rate turns into milliseconds. */
function work(s: CalibrationShape): number {
  return s.kind === 'matmul' ? (s.dims.batch ?? 1) * s.dims.m * s.dims.k * s.dims.n : 4 * s.n;
}

/** A measurer that reports each backend at a fixed rate (operations per millisecond) and counts its calls. */
function fakeRates(rates: { wasm: number; webgpu: number }): { measure: MeasureBackend; calls: Array<{ kind: string; workload: string }> } {
  const calls: Array<{ kind: string; workload: string }> = [];
  const measure: MeasureBackend = async (be: Backend, w: CalibrationWorkload): Promise<BackendFigures & { abandoned: boolean }> => {
    const kind = be.kind === 'webgpu' ? 'webgpu' : 'wasm';
    calls.push({ kind, workload: w.name });
    const shapeMs = w.shapes.map((s) => ({ name: s.name, ms: work(s) / rates[kind] }));
    return { kind, description: be.description, shapeMs, totalMs: shapeMs.reduce((a, s) => a + s.ms, 0), complete: true, abandoned: false };
  };
  return { measure, calls };
}

/** A WebGPU stand-in for the decision tests (the fake measurer never runs its kernels). */
function gpuStandIn(): { candidate: ModelBackendCandidates['webgpu']; destroyed: () => number } {
  let destroyed = 0;
  const backend = { kind: 'webgpu', description: 'test adapter', destroy: () => void destroyed++ } as unknown as Backend;
  return { candidate: { kind: 'webgpu', create: async () => backend }, destroyed: () => destroyed };
}

const wasmCandidate = { kind: 'wasm' as const, create: createWasmBackend };
const device = { cpu: 'test CPU × 2', adapter: 'test adapter (vendor x, architecture y)' };

describe('the model\'s shapes', () => {
  it('come from its config: Q/K/V, MLP up, scores, the widest activation and the LM head on one row', () => {
    const w = modelWorkload(STORIES, 16);
    expect(w.shapes.map((s) => (s.kind === 'matmul' ? [s.dims.batch ?? 1, s.dims.m, s.dims.k, s.dims.n] : [s.n]))).toEqual([
      [1, 16, 64, (8 + 2 * 4) * 8], [1, 16, 64, 2 * 172], [8, 16, 8, 16], [16 * 172], [1, 1, 64, 512],
    ]);
    // The prompt rows default to 32, or fewer when the model accepts fewer positions.
    expect(modelWorkload(STORIES).name).toMatch(/@32$/);
    expect(modelWorkload({ ...STORIES, maxPositions: 8 }).name).toMatch(/@8$/);
    expect(() => modelWorkload({ ...STORIES, hiddenSize: 0 })).toThrow(/hiddenSize must be a positive integer, got 0/);
    expect(() => modelWorkload({ ...STORIES, vocabSize: Number.NaN })).toThrow(/vocabSize must be a positive integer/);
  });
});

describe('chooseBackendForModel: the decision follows the measured rates', () => {
  it('takes WebGPU when it measures faster by more than the margin, and frees the loser', async () => {
    const gpu = gpuStandIn();
    const { measure, calls } = fakeRates({ wasm: 1e5, webgpu: 3e5 });
    const s = await chooseBackendForModel(STORIES, { wasm: wasmCandidate, webgpu: gpu.candidate, device }, undefined, { measure });
    expect(s.backend.kind).toBe('webgpu');
    expect(calls.map((c) => c.kind)).toEqual(['wasm', 'webgpu']);
    const [wasm, webgpu] = s.calibration!.figures;
    expect(wasm.shapeMs.map((x) => x.name)).toEqual(modelWorkload(STORIES).shapes.map((x) => x.name));
    expect(webgpu.totalMs).toBeCloseTo(wasm.totalMs / 3, 9);
    expect(s.summary).toMatch(/^auto → WebGPU: .*3\.00× faster/);
    expect(gpu.destroyed()).toBe(0);
  });

  it('keeps WebAssembly when WebGPU is faster by less than the margin (and destroys the WebGPU device)', async () => {
    const gpu = gpuStandIn();
    const { measure } = fakeRates({ wasm: 1e5, webgpu: 1e5 / (WEBGPU_MARGIN + 0.05) });
    const s = await chooseBackendForModel(STORIES, { wasm: wasmCandidate, webgpu: gpu.candidate, device }, undefined, { measure });
    expect(s.backend.kind).toBe('wasm');
    expect(s.summary).toMatch(/WebGPU not ≥ 10% faster/);
    expect(gpu.destroyed()).toBe(1);
  });

  it('without a WebGPU adapter takes WebAssembly without measuring', async () => {
    const { measure, calls } = fakeRates({ wasm: 1, webgpu: 1e9 });
    const s = await chooseBackendForModel(STORIES, { wasm: wasmCandidate, device: { cpu: 'c', adapter: 'WebGPU: no adapter' } }, new MemoryCalibrationCache(), { measure });
    expect(s.backend.kind).toBe('wasm');
    expect(calls).toEqual([]);
    expect(s.summary).toMatch(/nothing to compare with \(WebGPU: no adapter\)/);
  });
});

describe('chooseBackendForModel: the cache', () => {
  it('a second start for the same shapes on the same device does not measure; another shape set or device does', async () => {
    const cache = new MemoryCalibrationCache();
    const { measure, calls } = fakeRates({ wasm: 1e5, webgpu: 4e5 });
    const start = (config: ModelConfig, d = device) => chooseBackendForModel(config, { wasm: wasmCandidate, webgpu: gpuStandIn().candidate, device: d }, cache, { measure });
    const first = await start(STORIES);
    expect(first.cached).toBe(false);
    expect(calls.length).toBe(2);

    const second = await start(STORIES);
    expect(second.cached).toBe(true);
    expect(calls.length).toBe(2);
    expect(second.calibration).toEqual(first.calibration);
    expect(second.backend.kind).toBe('webgpu');
    expect(second.summary).toMatch(/cached from/);

    // More layers, same per-layer shapes: the same shape set, so the same calibration.
    expect((await start({ ...STORIES, numLayers: 12 })).cached).toBe(true);
    expect(calls.length).toBe(2);

    const other = await start(GPT2ISH);
    expect(other.cached).toBe(false);
    expect(calls.slice(2).map((c) => c.workload)).toEqual([modelWorkload(GPT2ISH).name, modelWorkload(GPT2ISH).name]);
    expect(other.calibration!.key).not.toBe(first.calibration!.key);

    const moved = await start(STORIES, { ...device, adapter: 'another adapter' });
    expect(moved.cached).toBe(false);
    expect(calls.length).toBe(6);
  });
});

describe('chooseBackendForModel: measuring for real on WebAssembly', () => {
  it('times every stories260K shape on the WASM backend; a WebGPU candidate that fails to start loses, named', async () => {
    const failing = { kind: 'webgpu' as const, create: () => Promise.reject(new Error('requestDevice failed (test)')) };
    const cache = new MemoryCalibrationCache();
    const s = await chooseBackendForModel(STORIES, { wasm: wasmCandidate, webgpu: failing, device }, cache, { tokens: 8 });
    expect(s.backend.kind).toBe('wasm');
    const c = s.calibration!;
    expect(c.figures.map((f) => f.kind)).toEqual(['wasm']);
    const [wasm] = c.figures;
    expect(wasm.complete).toBe(true);
    expect(wasm.shapeMs.map((x) => x.name)).toEqual(modelWorkload(STORIES, 8).shapes.map((x) => x.name));
    for (const x of wasm.shapeMs) expect(x.ms, x.name).toBeGreaterThan(0);
    expect(c.reason).toMatch(/WebGPU not measured \(requestDevice failed \(test\)\)/);
    // Shapes this small take milliseconds; the 2 s budget per backend bounds the whole start.
    expect(c.calibrationMs).toBeLessThan(30_000);
    expect(await cache.get(c.key)).toEqual(c);
  });

  it('an explicit choice wins without probing or measuring', async () => {
    const s = await selectBackendForModel('wasm', STORIES);
    expect(s.backend.kind).toBe('wasm');
    expect(s.summary).toMatch(/chosen explicitly/);
  });
});
