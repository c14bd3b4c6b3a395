import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasmBackend } from '@puma/backend-wasm';
import { runDawnProcess } from '@puma/backend-webgpu/dawn-process';
import { DEFAULT_BUDGET_MS, DEFAULT_WORKLOAD, WEBGPU_MARGIN, decideBackend, measureBackend, workloadForModel, type BackendFigures } from './calibrate.ts';
import { FileCalibrationCache } from './calibrate-cache-file.ts';
import { MemoryCalibrationCache, type Calibration } from './calibrate-cache.ts';
import { createBackend, parseBackendChoice, selectBackend } from './select-backend.ts';

const figures = (kind: 'wasm' | 'webgpu', ms: number[], complete = true): BackendFigures => ({
  kind, description: kind, shapeMs: ms.map((v, i) => ({ name: `s${i}`, ms: v })), totalMs: ms.reduce((a, b) => a + b, 0), complete,
});

describe('backend selection', () => {
  it('parses choices and rejects unknown ones by name', () => {
    expect(parseBackendChoice('WASM')).toBe('wasm');
    expect(parseBackendChoice(undefined)).toBe('auto');
    expect(() => parseBackendChoice('cuda')).toThrow(/unknown backend "cuda"/);
  });

  it('auto falls back to WebAssembly when no GPU is present, without measuring', async () => {
    expect((await createBackend('auto', undefined)).kind).toBe('wasm');
    const cache = new MemoryCalibrationCache();
    const s = await selectBackend('auto', { cache });
    expect(s.backend.kind).toBe('wasm');
    expect(s.calibration).toBeUndefined();
    expect(s.summary).toMatch(/nothing to compare with/);
  });

  it('an explicit choice wins and says so', async () => {
    const s = await selectBackend('wasm');
    expect(s.backend.kind).toBe('wasm');
    expect(s.summary).toMatch(/chosen explicitly/);
  });
});

describe('decision rule', () => {
  it('takes WebGPU only when it is at least 10% faster over the whole workload', () => {
    expect(decideBackend(figures('wasm', [40, 60]), figures('webgpu', [20, 30])).chosen).toBe('webgpu');
    expect(decideBackend(figures('wasm', [40, 60]), figures('webgpu', [45, 45])).chosen).toBe('webgpu');
    expect(decideBackend(figures('wasm', [40, 60]), figures('webgpu', [45, 46])).chosen).toBe('wasm');
    // Faster on one shape but slower in total (e.g. readbacks of small products) still loses.
    expect(decideBackend(figures('wasm', [40, 5]), figures('webgpu', [10, 80])).chosen).toBe('wasm');
  });
  it('a WebGPU run that did not complete, or none, keeps WebAssembly; WebAssembly must complete', () => {
    expect(decideBackend(figures('wasm', [40]), { ...figures('webgpu', [1]), complete: false, stopped: 'budget' }).reason).toMatch(/stopped: budget/);
    expect(decideBackend(figures('wasm', [40]), null).chosen).toBe('wasm');
    expect(() => decideBackend(figures('wasm', [40], false), null)).toThrow(/must complete/);
  });
});

describe('calibration on WebAssembly (this machine)', () => {
  it('measures every shape of the default workload within the budget', async () => {
    const be = await createWasmBackend();
    const t0 = performance.now();
    const f = await measureBackend(be, DEFAULT_WORKLOAD, { deadline: t0 + 10_000 });
    expect(f.complete).toBe(true);
    expect(f.shapeMs.map((s) => s.name)).toEqual(DEFAULT_WORKLOAD.shapes.map((s) => s.name));
    for (const s of f.shapeMs) expect(s.ms).toBeGreaterThan(0);
    expect(f.totalMs).toBeCloseTo(f.shapeMs.reduce((a, s) => a + s.ms!, 0), 6);
    // A 768-wide layer at 32 tokens is tens of milliseconds on one core; 1.5 s would mean a broken kernel.
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
  it('stops at the deadline and says so', async () => {
    const be = await createWasmBackend();
    const f = await measureBackend(be, DEFAULT_WORKLOAD, { deadline: performance.now() });
    expect(f.complete).toBe(false);
    expect(f.stopped).toMatch(/budget ran out/);
  });
  it('derives a model\'s shapes from its config (GQA, SwiGLU)', () => {
    const w = workloadForModel({ hiddenSize: 64, numHeads: 8, numKvHeads: 4, headDim: 8, intermediateSize: 172, mlp: 'swiglu' }, 16, 'stories260K');
    expect(w.name).toBe('stories260K@16');
    expect(w.shapes.map((s) => (s.kind === 'matmul' ? [s.dims.m, s.dims.k, s.dims.n] : [s.n]))).toEqual([[16, 64, 128], [16, 64, 344], [16, 8, 16], [16 * 172]]);
    expect(() => workloadForModel({ hiddenSize: 8, numHeads: 1, numKvHeads: 1, headDim: 8, intermediateSize: 8, mlp: 'dense' }, 0)).toThrow(/tokens must be a positive integer/);
  });
});

describe('calibration cache file', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'puma-calib-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  it('keeps entries by key and treats an unreadable file as empty', async () => {
    const file = path.join(dir, 'a', 'calibration.json');
    const cache = new FileCalibrationCache(file);
    const c: Calibration = { key: 'k1', workload: 'w', chosen: 'wasm', rule: 'r', reason: 'x', figures: [], measuredAt: '2026-12-04T00:00:00Z', calibrationMs: 1 };
    expect(await cache.get('k1')).toBeUndefined();
    await cache.set('k1', c);
    expect(await cache.get('k1')).toEqual(c);
    expect(await cache.get('k2')).toBeUndefined();
    await import('node:fs/promises').then((fs) => fs.writeFile(file, '{ not json'));
    expect(await cache.get('k1')).toBeUndefined();
    await cache.set('k2', { ...c, key: 'k2' });
    expect(Object.keys(JSON.parse(await readFile(file, 'utf8')))).toEqual(['k2']);
  });
});

interface DawnStarts {
  starts: Array<{ kind: string; cached: boolean; summary: string; calibration?: Calibration; ms: number }>;
}

describe('auto on the WebGPU adapter here (Dawn; SwiftShader without a GPU)', () => {
  let report: DawnStarts | undefined;
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'puma-calib-dawn-'));
    const runner = fileURLToPath(new URL('./calibrate-dawn-run.ts', import.meta.url));
    // SwiftShader compiles every pipeline for the long-budget start: about 15 s alone, 50-150 s on a loaded machine.
    report = await runDawnProcess<DawnStarts>(runner, [path.join(dir, 'calibration.json')], 330_000);
  }, 340_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the first start measures both backends within about its budget, and the choice follows the rule on those figures', () => {
    const first = report!.starts[0];
    expect(first.cached).toBe(false);
    const c = first.calibration!;
    expect(c.figures.map((f) => f.kind)).toEqual(['wasm', 'webgpu']);
    const [wasm, gpu] = c.figures;
    expect(wasm.complete).toBe(true);
    // WebGPU was tried: either timed or stopped with its start-up time measured.
    expect(gpu.startupMs).toBeGreaterThan(0);
    expect(c.chosen).toBe(decideBackend(wasm, gpu).chosen);
    expect(first.kind).toBe(c.chosen);
    expect(gpu.complete && gpu.totalMs <= WEBGPU_MARGIN * wasm.totalMs).toBe(c.chosen === 'webgpu');
    expect(first.summary).toMatch(/^auto → (WebAssembly|WebGPU): .* \(measured in \d+ ms\)$/);
    // Budget 1.5 s; a step in flight may finish past it on a loaded machine, but never by seconds on end.
    expect(c.calibrationMs).toBeLessThan(DEFAULT_BUDGET_MS * 4);
  });
  it('given time to start, the adapter here (fallback or not) has its kernels timed, not assumed', () => {
    const long = report!.starts[3].calibration!;
    const gpu = long.figures[1];
    expect(gpu.kind).toBe('webgpu');
    expect(gpu.shapeMs[0].ms, gpu.stopped).toBeGreaterThan(0);
    expect(long.chosen).toBe(decideBackend(long.figures[0], gpu).chosen);
  });
  it('the second start on the same device reuses the cached choice without measuring', () => {
    const [first, second] = report!.starts;
    expect(second.cached).toBe(true);
    expect(second.calibration).toEqual(first.calibration);
    expect(second.kind).toBe(first.kind);
    expect(second.summary).toMatch(/cached from/);
  });
  it('a different device key measures again', () => {
    const third = report!.starts[2];
    expect(third.cached).toBe(false);
    expect(third.calibration!.key).not.toBe(report!.starts[0].calibration!.key);
    expect(third.calibration!.measuredAt >= report!.starts[0].calibration!.measuredAt).toBe(true);
  });
  it('once the model is known, its own shapes are measured on both backends, then cached per shape set', () => {
    const [model, again] = report!.starts.slice(4);
    expect(model.cached).toBe(false);
    const c = model.calibration!;
    expect(c.workload).toMatch(/^gpt2 4×128@32$/);
    expect(c.figures.map((f) => f.kind)).toEqual(['wasm', 'webgpu']);
    expect(c.figures[0].shapeMs[0].name).toBe('qkv 32×128×384');
    expect(c.figures[1].startupMs).toBeGreaterThan(0);
    expect(c.chosen).toBe(decideBackend(c.figures[0], c.figures[1]).chosen);
    // Another shape set than the generic starts' on the same device: its own entry in the file.
    expect(c.key).not.toBe(report!.starts[0].calibration!.key);
    expect(again.cached).toBe(true);
    expect(again.calibration).toEqual(c);
    expect(again.kind).toBe(model.kind);
  });
});
