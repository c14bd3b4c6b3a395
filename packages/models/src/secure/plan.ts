/**
 * `puma plan`'s estimate for a model shape and a workload, before anything runs: rounds and bytes per party
 * (plan-cost.ts: the ops' declared costs, exact), disk per party (the party's share bundle), memory per party
 * and projected time (models with stated constants, below). Measured figures for the same rows are in
 * `npm run bench -- models`, which prints both and their ratio.
 *
 * Memory per party (weights streamed from the party's store, weight-stream.ts, with its resident weight cache,
 * weight-cache.ts), measured as the bench measures it (V8 heap + external memory of the party's thread, less the
 * WebAssembly backend's never-written GC nudges). On the JavaScript side: a baseline (PARTY_BASELINE_BYTES plus
 * JS_BYTES_PER_ROUND per round), the
 * weight cache (both components of the expanded share, up to its cap) and one dense part being read and verified
 * (STORE_PART_BYTES). In WebAssembly memory, the working set of the pass's peak, or WASM_FLOOR_BYTES when that is
 * smaller (the memory the backend grows to anyway, with dropped buffers awaiting collection), times the heap's
 * growth slack (WASM_GROWTH): two weight blocks
 * (the one multiplied and the one read ahead, each two ring components of at most `blockWords` words, fewer when
 * the largest tensor is smaller), the KV cache (two components of K and V, every layer, every position), the
 * client's one-hot input (two components, rows × vocab), and the largest nonlinear op
 * (NONLINEAR_BYTES_PER_ELEMENT per element of the largest GeLU, softmax or norm input, SWIGLU_BYTES_PER_GATE per
 * SwiGLU gate). Depth does not
 * enter except through the KV cache and the cache's cap.
 * The constants come from scripts/bench/models-plan-probe.ts, which takes a party's memory apart during a bench
 * workload (heap, ArrayBuffers, WebAssembly memory reserved and held, per profile span).
 * Disk per party: its share bundle as stored (parties 1 and 2: the dense component, 8 bytes per element;
 * party 0: two 32-byte seeds per tensor).
 * Time: compute + rounds × RTT + (the busiest party's bytes × 8) / bandwidth, with compute = the local
 * products' multiply-adds (two per plaintext multiply-add: forward.ts's matmul) / MATMUL_MACS_PER_S + the
 * busiest party's words sent / NONLINEAR_WORDS_PER_S (the local work of the nonlinear protocols scales with
 * what they send). The constants are stated below with their source; per-round overhead is no part of
 * compute (the network term charges rounds).
 */
import type { Cost } from '@puma/protocol';
import { sizeOf } from '@puma/ring';
import type { ModelConfig } from '../types.ts';
import { foldsNormAffine } from './norm-folding.ts';
import { classificationCost, generationCost, type PlanClass, type PlannedCost } from './plan-cost.ts';
import { DEFAULT_WEIGHT_CACHE_BYTES } from './weight-cache.ts';
import { DEFAULT_BLOCK_WORDS } from './weight-stream.ts';

export type PlanWorkload =
  | { kind: 'generate'; promptTokens: number; newTokens: number; reveal?: 'logits' | 'argmax' }
  | { kind: 'classify'; tokens: number };

export interface PlanNetwork {
  name: string;
  bitsPerSecond: number;
  rttMs: number;
}

/** The bench's two networks (scripts/bench/models-analysis.ts NETWORKS). */
export const PLAN_NETWORKS = {
  lan: { name: "PUMA's LAN (5 Gbps, 1 ms RTT)", bitsPerSecond: 5e9, rttMs: 1 },
  wan: { name: 'WAN (100 Mbps, 30 ms RTT)', bitsPerSecond: 100e6, rttMs: 30 },
} as const satisfies Record<string, PlanNetwork>;

/**
 * Local multiply-adds per second per party inside secure matmuls, and words sent per second of nonlinear
 * local work per party: fitted to issue 12's quiet run of the GPT-2-base shape in `npm run bench -- models`
 * (three parties in one process on 2 cores: 14.0 s, 0.385 GB per party, of which the one-hot embedding's
 * 2 × 1.235 G local multiply-adds took 3.4 s). WebAssembly alone does ~2 G/s on one core of that machine
 * (`npm run bench -- backend`); three parties share two cores.
 */
export const MATMUL_MACS_PER_S = 1.0e9;
export const NONLINEAR_WORDS_PER_S = 10e6;
/**
 * Memory per element of the largest nonlinear op's input: its WebAssembly working set (comparison bit planes,
 * selection lanes, products, and dropped buffers awaiting the backend's finalizer until the next forced
 * collection) with the messages it leaves for the JavaScript collector, both counted here (the formula applies
 * WASM_GROWTH to it). Re-measured in session 24 with models-plan-probe.ts, the working sets having shrunk since the
 * constant was first set (not traced to which change): BERT-base, 393,216 GeLU inputs, peak 1,076-1,111 MiB per
 * party of which 534 MiB WebAssembly reserved and 530-564 MiB ArrayBuffers; GPT-2-base, 98,304, peak 671-695 MiB
 * (176 MiB reserved, 481-505 ArrayBuffers). Less the plan's other terms that leaves 1,430-1,530 (BERT-base) and
 * 1,830-2,200 (GPT-2-base) bytes per element; 1,500 puts both rows within 10% (it was 2,000 when BERT-base
 * measured 1,634 MiB per party: plan / measured had drifted to 1.29).
 */
export const NONLINEAR_BYTES_PER_ELEMENT = 1500;
/**
 * The same per gate of a SwiGLU MLP (rows x intermediate: its input is the gate and the up projection, twice
 * that): models-plan-probe.ts on the LLaMA-2-7B shape (2 of 32 layers, 8 tokens: 88,064 gates) measured up to
 * 376 MiB of WebAssembly memory held in the SwiGLU span (4,475 bytes per gate) and a peak of 893-1,012 MiB per party,
 * 385-504 MiB above the plan's other terms (4,070-5,330 bytes per gate with WASM_GROWTH); with the GeLU figure the
 * plan said 664 MiB (0.69 of measured).
 */
export const SWIGLU_BYTES_PER_GATE = 4300;
/**
 * JavaScript side of a party however small its model: its heap at few rounds (about 12 MiB) and transient
 * ArrayBuffers (messages, store reads awaiting collection; 0-70 MiB, 28 typical) in models-plan-probe.ts.
 */
export const PARTY_BASELINE_BYTES = 40 * 2 ** 20;
/**
 * JavaScript heap per round of the workload, fitted to models-plan-probe.ts: 49-60 MiB of heap at stories260K's
 * 7,078 rounds against 10-20 MiB at 200-1,200 rounds (per-round bookkeeping awaiting collection; its exact
 * make-up was not taken apart).
 */
export const JS_BYTES_PER_ROUND = 4096;
/**
 * WebAssembly memory a party grows to however small its working set: buffers dropped by the protocol are freed
 * only when the garbage collector finalizes their handles, which the backend forces after every 128 MiB of
 * allocations. models-plan-probe.ts measured 57-87 MiB held (69-108 reserved) for stories260K, 60-66 (76) for
 * bert-shakespeare.
 */
export const WASM_FLOOR_BYTES = 70 * 2 ** 20;
/**
 * WebAssembly memory reserved per byte of working set: the backend's heap grows by at least a quarter of its size
 * at a time (backend-wasm heap.ts) and never shrinks, so what it reserves lies between the working set and 1.25
 * times it; the plan takes the middle.
 */
export const WASM_GROWTH = 1.125;
/** One dense part of a party's share (worker/session/shares.ts DENSE_PART_BYTES), read whole to check its sha256. */
export const STORE_PART_BYTES = 8 * 2 ** 20;
const WORD = 8;
const SEED_BYTES = 32;

export interface PlanTensor {
  name: string;
  shape: number[];
  elements: number;
}

/** The secure pass's weight tensors (share-weights.ts secureTensors) with their shapes, from the config alone. */
export function secureTensorShapes(c: ModelConfig): PlanTensor[] {
  const biased = c.arch !== 'llama';
  const h = c.hiddenSize;
  const out: PlanTensor[] = [];
  const put = (name: string, shape: number[]) => out.push({ name, shape, elements: sizeOf(shape) });
  const linear = (name: string, i: number, o: number) => {
    put(`${name}.w`, [i, o]);
    if (biased) put(`${name}.b`, [o]);
  };
  const norm = (name: string) => {
    put(`${name}.scale`, [h]);
    if (c.norm === 'layernorm') put(`${name}.bias`, [h]);
  };
  put('emb.token', [c.vocabSize, h]);
  if (c.positions === 'learned') put('emb.position', [c.maxPositions, h]);
  if (c.typeVocabSize > 0) put('emb.tokenType', [c.typeVocabSize, h]);
  if (c.normPlacement === 'post') norm('emb.norm');
  // Norms whose affine part the owner folds into the matmul they feed are not shared (share-weights.ts).
  const blockNorm = (name: string) => {
    if (!foldsNormAffine(c, name)) norm(name);
  };
  for (let l = 0; l < c.numLayers; l++) {
    blockNorm(`l${l}.attnNorm`);
    linear(`l${l}.qkv`, h, (c.numHeads + 2 * c.numKvHeads) * c.headDim);
    linear(`l${l}.o`, c.numHeads * c.headDim, h);
    blockNorm(`l${l}.mlpNorm`);
    if (c.mlp === 'swiglu') {
      linear(`l${l}.w13`, h, 2 * c.intermediateSize);
      linear(`l${l}.w2`, c.intermediateSize, h);
    } else {
      linear(`l${l}.up`, h, c.intermediateSize);
      linear(`l${l}.down`, c.intermediateSize, h);
    }
  }
  if (c.normPlacement === 'pre') norm('final');
  if (c.numLabels > 0 && c.arch === 'bert') {
    linear('pooler', h, h);
    linear('cls', h, c.numLabels);
  } else if (!c.tiedHead) {
    put('head.w', [h, c.vocabSize]);
  }
  return out;
}

export interface InferencePlan {
  workload: PlanWorkload;
  network: PlanNetwork;
  /** Secure weight elements (fused q/k/v; a tied head is the token embedding's, as the shares hold it). */
  weightElements: number;
  rounds: number;
  bytesPerParty: [number, number, number];
  maxBytesPerParty: number;
  diskPerParty: [number, number, number];
  memory: {
    /** PARTY_BASELINE_BYTES + JS_BYTES_PER_ROUND × rounds. */
    baseline: number; weightCache: number; storePart: number;
    /** WebAssembly memory: max(WASM_FLOOR_BYTES, WASM_GROWTH × (weightBlocks + kvCache + oneHotInput + activations)). */
    webAssembly: number; weightBlocks: number; kvCache: number; oneHotInput: number; activations: number;
    maxPerParty: number;
  };
  macs: number;
  computeSeconds: number;
  projectedSeconds: number;
  byClass: Record<PlanClass, Cost>;
}

function planned(c: ModelConfig, w: PlanWorkload, fracBits: number): PlannedCost {
  if (w.kind === 'classify') return classificationCost(c, w.tokens, fracBits);
  return generationCost(c, w.promptTokens, w.newTokens, w.reveal ?? 'logits', fracBits);
}

/** Memory of the largest nonlinear op of a pass: the MLP's activation (GeLU, or SwiGLU per gate), softmax, or a norm. */
function largestNonlinearBytes(c: ModelConfig, rows: number, keys: number): number {
  const mlp = rows * c.intermediateSize * (c.mlp === 'swiglu' ? SWIGLU_BYTES_PER_GATE : NONLINEAR_BYTES_PER_ELEMENT);
  return Math.max(mlp, NONLINEAR_BYTES_PER_ELEMENT * Math.max(c.numHeads * rows * keys, rows * c.hiddenSize));
}

/**
 * `weightCacheBytes`: the cap of the party's weight cache (StoredWeightSource's weightCacheBytes; 0 streams every
 * pass); the cache holds the whole expanded share when it fits.
 */
export function planInference(
  c: ModelConfig, w: PlanWorkload, network: PlanNetwork = PLAN_NETWORKS.lan, fracBits = 18, blockWords = DEFAULT_BLOCK_WORDS,
  weightCacheBytes = DEFAULT_WEIGHT_CACHE_BYTES,
): InferencePlan {
  const p = planned(c, w, fracBits);
  const tensors = secureTensorShapes(c);
  const weightElements = tensors.reduce((s, t) => s + t.elements, 0);
  const rows = w.kind === 'classify' ? w.tokens : w.promptTokens;
  const keys = w.kind === 'classify' ? w.tokens : w.promptTokens + w.newTokens - 1;
  const weightBlocks = 2 * 2 * WORD * Math.min(blockWords, Math.max(...tensors.map((t) => t.elements)));
  const storePart = Math.min(STORE_PART_BYTES, WORD * Math.max(...tensors.map((t) => t.elements)));
  const kvCache = w.kind === 'generate' ? 2 * 2 * WORD * c.numLayers * keys * c.numKvHeads * c.headDim : 0;
  const baseline = PARTY_BASELINE_BYTES + JS_BYTES_PER_ROUND * p.cost.rounds;
  const weightCache = Math.min(weightCacheBytes, 2 * WORD * weightElements);
  const oneHotInput = 2 * WORD * rows * c.vocabSize;
  const activations = largestNonlinearBytes(c, rows, keys);
  const webAssembly = Math.max(WASM_FLOOR_BYTES, Math.round(WASM_GROWTH * (weightBlocks + kvCache + oneHotInput + activations)));
  const maxBytesPerParty = Math.max(...p.cost.bytes);
  const computeSeconds = (2 * p.macs) / MATMUL_MACS_PER_S + maxBytesPerParty / WORD / NONLINEAR_WORDS_PER_S;
  return {
    workload: w,
    network,
    weightElements,
    rounds: p.cost.rounds,
    bytesPerParty: p.cost.bytes,
    maxBytesPerParty,
    diskPerParty: [2 * SEED_BYTES * tensors.length, WORD * weightElements, WORD * weightElements],
    memory: {
      baseline, weightCache, storePart, webAssembly, weightBlocks, kvCache, oneHotInput, activations,
      maxPerParty: baseline + weightCache + storePart + webAssembly,
    },
    macs: p.macs,
    computeSeconds,
    projectedSeconds: computeSeconds + (p.cost.rounds * network.rttMs) / 1000 + (maxBytesPerParty * 8) / network.bitsPerSecond,
    byClass: p.byClass,
  };
}
