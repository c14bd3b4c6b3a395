/**
 * Backend calibration for `auto` (issue 12): time a transformer's own matmul and elementwise shapes on each
 * backend on this device, as a protocol step uses them, and pick the faster by a stated rule.
 *
 * One step of a shape = upload the received operand (a reshared activation arrives as a message) + the
 * kernels + read the result back (it is sent next). That is what a party pays per protocol round, so a GPU
 * that computes fast but loses its gain in transfers is measured losing (spu#503 reports exactly that).
 * Weights stay resident, as in a session. Each shape's kernels first run once at a tiny size (pipelines,
 * pools, wasm tier-up), then the shape is timed; a backend's figure is the sum over the workload's shapes of
 * each shape's fastest timed step.
 *
 * Budget: each backend gets `budgetMs` (default 1.5 s; calibrate-candidates.ts). WebAssembly runs first (the
 * fast path on CPUs: tens of milliseconds for a GPT-2-base layer); WebGPU's start-up (device and pipelines)
 * counts against its own budget. WebGPU must beat WEBGPU_MARGIN × WebAssembly's figure, so a step of it still
 * running past that (or past its deadline) is abandoned: its elapsed time is a measured lower bound and it has
 * lost. On a software adapter (SwiftShader) that is the usual outcome: it is measured losing, not assumed to.
 *
 * Rule (decideBackend): WebGPU is chosen only when it completed the workload and its figure is at most
 * WEBGPU_MARGIN (0.9) times WebAssembly's, i.e. at least 10% faster; otherwise WebAssembly. Ties and noise go to
 * WebAssembly, which has no driver or transfer variance.
 */
import type { Backend, Buf, MatmulDims } from '@puma/backend';
import type { ModelConfig } from '@puma/models';

export type CalibratedKind = 'wasm' | 'webgpu';

export type CalibrationShape =
  | { name: string; kind: 'matmul'; dims: MatmulDims }
  | { name: string; kind: 'elementwise'; n: number };

export interface CalibrationWorkload {
  /** Says which model (or default) the shapes come from; part of the cache key. */
  name: string;
  shapes: CalibrationShape[];
}

export interface BackendFigures {
  kind: CalibratedKind;
  description: string;
  /** Fastest timed step per shape in milliseconds (null: not reached). */
  shapeMs: Array<{ name: string; ms: number | null }>;
  /** Sum of the measured shapes' milliseconds: the whole workload when complete, a lower bound otherwise. */
  totalMs: number;
  complete: boolean;
  /** Why measuring stopped early, when it did. */
  stopped?: string;
  /** WebGPU: milliseconds to get a device and build its pipelines (the measuring excluded). */
  startupMs?: number;
}

export const WEBGPU_MARGIN = 0.9;
export const CALIBRATION_RULE = `WebGPU only if it completes the workload in at most ${WEBGPU_MARGIN} × WebAssembly's time (≥ 10% faster); otherwise WebAssembly`;
export const DEFAULT_BUDGET_MS = 1500;
/** Timed runs per shape (after the warm-up), while the budget lasts. */
const TIMED_RUNS = 2;
/** Largest weight operand a calibration shape uses (16 MiB). */
const MAX_WEIGHT_WORDS = 2 ** 21;
/** Tokens of the prompt the shapes are taken at when the caller does not say. */
const DEFAULT_TOKENS = 32;

/**
 * The shapes one transformer layer runs at `tokens` rows: the fused Q/K/V projection, the MLP's up
 * projection, the attention scores (one product per head), and the elementwise work of its widest
 * activation (the MLP intermediate); with the vocabulary size, also the LM head on one row (a decoding step).
 */
export function workloadForModel(
  c: Pick<ModelConfig, 'hiddenSize' | 'numHeads' | 'numKvHeads' | 'headDim' | 'intermediateSize' | 'mlp'> & Partial<Pick<ModelConfig, 'vocabSize'>>,
  tokens = DEFAULT_TOKENS,
  name = 'model',
): CalibrationWorkload {
  if (!Number.isInteger(tokens) || tokens < 1) throw new Error(`calibration: tokens must be a positive integer, got ${tokens}`);
  for (const k of ['hiddenSize', 'numHeads', 'numKvHeads', 'headDim', 'intermediateSize'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`calibration: the model's ${k} must be a positive integer, got ${c[k]}`);
  }
  // Weight operands are capped at MAX_WEIGHT_WORDS (fewer output columns): a LLaMA-7B projection would
  // take seconds just to fill, and time per output column is what the shape measures.
  const cols = (n: number) => Math.max(1, Math.min(n, Math.floor(MAX_WEIGHT_WORDS / c.hiddenSize)));
  const qkv = cols((c.numHeads + 2 * c.numKvHeads) * c.headDim);
  const up = cols(c.mlp === 'swiglu' ? 2 * c.intermediateSize : c.intermediateSize);
  const elementwise = Math.min(tokens * c.intermediateSize, MAX_WEIGHT_WORDS);
  const shapes: CalibrationShape[] = [
    { name: `qkv ${tokens}×${c.hiddenSize}×${qkv}`, kind: 'matmul', dims: { m: tokens, k: c.hiddenSize, n: qkv } },
    { name: `mlp up ${tokens}×${c.hiddenSize}×${up}`, kind: 'matmul', dims: { m: tokens, k: c.hiddenSize, n: up } },
    { name: `scores ${c.numHeads}×${tokens}×${c.headDim}×${tokens}`, kind: 'matmul', dims: { batch: c.numHeads, m: tokens, k: c.headDim, n: tokens, transB: true } },
    { name: `elementwise ${elementwise}`, kind: 'elementwise', n: elementwise },
  ];
  if (c.vocabSize !== undefined) {
    if (!Number.isInteger(c.vocabSize) || c.vocabSize < 1) throw new Error(`calibration: the model's vocabSize must be a positive integer, got ${c.vocabSize}`);
    const head = cols(c.vocabSize);
    shapes.push({ name: `head 1×${c.hiddenSize}×${head}`, kind: 'matmul', dims: { m: 1, k: c.hiddenSize, n: head } });
  }
  return { name: `${name}@${tokens}`, shapes };
}

/** The shapes a workload times, as one string: calibrations of equal shape sets are interchangeable (the cache key). */
export function shapeSet(w: CalibrationWorkload): string {
  return w.shapes.map((s) => s.name).join('; ');
}

/** The shapes used when the model is not known yet at party start: a GPT-2-base layer at 32 tokens. */
export const DEFAULT_WORKLOAD = workloadForModel({ hiddenSize: 768, numHeads: 12, numKvHeads: 12, headDim: 64, intermediateSize: 3072, mlp: 'dense' }, DEFAULT_TOKENS, 'gpt2-base-layer');

/** Deterministic non-trivial words (the values do not matter for timing, only that they are not all zero). */
function words(n: number, seed: number): BigUint64Array {
  const out = new BigUint64Array(n);
  const w = new Uint32Array(out.buffer);
  let x = seed >>> 0;
  for (let i = 0; i < w.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    w[i] = x ^ (x >>> 15);
  }
  return out;
}

interface PreparedShape {
  /** One protocol-like step; resolves when its result is back on the CPU. */
  step(): Promise<void>;
  dispose(): void;
}

function prepare(be: Backend, s: CalibrationShape): PreparedShape {
  if (s.kind === 'matmul') {
    const { batch = 1, m, k, n } = s.dims;
    const a = words(batch * m * k, 1);
    const b = be.upload(words(batch * k * n, 2));
    return {
      async step() {
        const x = be.upload(a);
        const y = be.matmul(x, b, s.dims);
        await be.read(y);
        be.release(x);
        be.release(y);
      },
      dispose: () => be.release(b),
    };
  }
  const a = words(s.n, 3);
  const b = be.upload(words(s.n, 4));
  return {
    async step() {
      // A truncation- or comparison-like chain: a product, a sum, a shift and a bit operation.
      const x = be.upload(a);
      const p = be.mul(x, b);
      const q = be.add(p, x);
      const r = be.shrArith(q, 18);
      const t = be.xor(r, b);
      await be.read(t);
      for (const buf of [x, p, q, r, t] as Buf[]) be.release(buf);
    },
    dispose: () => be.release(b),
  };
}

/** The same kernels at a tiny size: builds lazy state (pipelines, pools, wasm tier-up) before timing. */
function warmUpShape(s: CalibrationShape): CalibrationShape {
  return s.kind === 'matmul' ? { ...s, dims: { ...s.dims, batch: s.dims.batch === undefined ? undefined : 2, m: 8, k: 8, n: 8 } } : { ...s, n: 256 };
}

/** Resolves true when `p` settles within `ms`, false otherwise (p keeps running; its rejection is absorbed). */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
    p.catch(() => {});
  }
}

export interface MeasureOptions {
  /** Stop when this clock (performance.now()) passes; the figure is then incomplete. */
  deadline: number;
  /** Stop as soon as the running total exceeds this (what the backend must beat to be chosen). */
  beatMs?: number;
}

/**
 * Times the workload on one backend (see the file comment for what a step is). Before timing, each shape's
 * kernels run once at a tiny size. A step still running when the deadline or the figure to beat is passed is
 * abandoned (a GPU cannot be interrupted; its result is discarded): its elapsed time is recorded as a lower
 * bound and measuring stops. A backend whose work is abandoned must not be used for anything else.
 */
export async function measureBackend(be: Backend, w: CalibrationWorkload, o: MeasureOptions): Promise<BackendFigures & { abandoned: boolean }> {
  const kind = be.kind === 'webgpu' ? 'webgpu' : 'wasm';
  const shapeMs: BackendFigures['shapeMs'] = w.shapes.map((s) => ({ name: s.name, ms: null }));
  let totalMs = 0;
  let stopped: string | undefined;
  let abandoned = false;
  const toDeadline = () => o.deadline - performance.now();
  const toBeat = () => Math.min(toDeadline(), o.beatMs === undefined ? Infinity : o.beatMs - totalMs);
  const run = async (step: () => Promise<void>, limit: () => number): Promise<number | null> => {
    const t0 = performance.now();
    const done = step();
    if (await settlesWithin(done, limit())) {
      await done;
      return performance.now() - t0;
    }
    abandoned = true;
    return null;
  };
  for (const [i, s] of w.shapes.entries()) {
    const warm = prepare(be, warmUpShape(s));
    // The warm-up is no part of the figure: only the deadline bounds it.
    const ok = await run(() => warm.step(), toDeadline);
    if (!abandoned) warm.dispose();
    if (ok === null) {
      stopped = `a warm-up step of shape ${i + 1} did not finish within the budget`;
      break;
    }
    const prepared = prepare(be, s);
    let best = Infinity;
    for (let r = 0; r < TIMED_RUNS && !abandoned; r++) {
      if (r > 0 && performance.now() + best > o.deadline) break;
      const t0 = performance.now();
      const ms = await run(() => prepared.step(), toBeat);
      best = Math.min(best, ms ?? performance.now() - t0);
    }
    if (!abandoned) prepared.dispose();
    shapeMs[i].ms = best;
    totalMs += best;
    if (abandoned) {
      stopped = `shape ${i + 1} (${s.name}) was still running after ${best.toFixed(1)} ms`;
      break;
    }
    if (o.beatMs !== undefined && totalMs > o.beatMs) {
      stopped = `its first ${i + 1} shape(s) already took ${totalMs.toFixed(1)} ms, more than the ${o.beatMs.toFixed(1)} ms it had to beat`;
      break;
    }
    if (performance.now() > o.deadline && i + 1 < w.shapes.length) {
      stopped = `the calibration budget ran out after ${i + 1} of ${w.shapes.length} shapes`;
      break;
    }
  }
  const complete = !abandoned && shapeMs.every((s) => s.ms !== null);
  return { kind, description: be.description, shapeMs, totalMs, complete, abandoned, ...(stopped ? { stopped } : {}) };
}

/** The rule of the file comment, on measured figures. */
export function decideBackend(wasm: BackendFigures, webgpu: BackendFigures | null): { chosen: CalibratedKind; reason: string } {
  if (!wasm.complete) throw new Error('calibration: WebAssembly must complete its workload (it is the reference figure)');
  const w = `WebAssembly ${wasm.totalMs.toFixed(1)} ms`;
  if (!webgpu) return { chosen: 'wasm', reason: `${w}; WebGPU not measured` };
  if (!webgpu.complete) {
    const partial = webgpu.shapeMs.some((s) => s.ms !== null) ? `WebGPU ≥ ${webgpu.totalMs.toFixed(1)} ms` : 'WebGPU not timed';
    return { chosen: 'wasm', reason: `${w}; ${partial} (stopped: ${webgpu.stopped ?? 'incomplete'})` };
  }
  const g = `WebGPU ${webgpu.totalMs.toFixed(1)} ms`;
  if (webgpu.totalMs <= WEBGPU_MARGIN * wasm.totalMs) return { chosen: 'webgpu', reason: `${g} vs ${w} (${(wasm.totalMs / webgpu.totalMs).toFixed(2)}× faster)` };
  return { chosen: 'wasm', reason: `${g} vs ${w} (WebGPU not ≥ 10% faster)` };
}
