/**
 * `puma plan`'s estimate for a model shape and a workload, before anything runs: rounds and bytes per party
 * (plan-cost.ts: the ops' declared costs, exact), disk per party (the party's share bundle), memory per party
 * and projected time (models with stated constants, below). Measured figures for the same rows are in
 * `npm run bench -- models`, which prints both and their ratio.
 *
 * Memory per party (weights streamed from the party's store, weight-stream.ts): a baseline
 * (PARTY_BASELINE_BYTES), two weight blocks resident (the one multiplied and the one read ahead), each two ring
 * components of at most `blockWords` words (fewer when the largest tensor is smaller), plus one dense part being
 * read and verified (STORE_PART_BYTES), plus the KV cache (two components of K and V, every layer, every
 * position), plus ACTIVATION_COPIES live copies of the pass's largest intermediate (two components each). Depth
 * does not enter except through the KV cache.
 * Disk per party: its share bundle as stored (parties 1 and 2: the dense component, 8 bytes per element;
 * party 0: two 32-byte seeds per tensor).
 * Time: compute + rounds × RTT + (the busiest party's bytes × 8) / bandwidth, with compute = the local
 * products' multiply-adds (two per plaintext multiply-add: forward.ts's matmul) / MATMUL_MACS_PER_S + the
 * busiest party's words sent / NONLINEAR_WORDS_PER_S (the local work of the nonlinear protocols scales with
 * what they send). The constants are stated below with their source; per-round overhead is no part of
 * compute (the network term charges rounds).
 */
import type { Cost } from '@puma/protocol';
import type { ModelConfig } from '../types.ts';
import { classificationCost, generationCost, type PlanClass, type PlannedCost } from './plan-cost.ts';
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
/** Live copies of the largest intermediate (both components). */
export const ACTIVATION_COPIES = 6;
/**
 * What a party holds before any model: its JavaScript heap, the WebAssembly module and its garbage-collection
 * slack. bench models measures 226-276 MiB per party for stories260K, whose weights are 0.3 M elements.
 */
export const PARTY_BASELINE_BYTES = 250 * 2 ** 20;
/** One dense part of a party's share (worker/session/shares.ts DENSE_PART_BYTES), read whole to check its sha256. */
export const STORE_PART_BYTES = 8 * 2 ** 20;
const WORD = 8;
const SEED_BYTES = 32;

export interface PlanTensor {
  name: string;
  elements: number;
}

/** The secure pass's weight tensors (share-weights.ts secureTensors) from the shapes alone. */
export function secureTensorShapes(c: ModelConfig): PlanTensor[] {
  const biased = c.arch !== 'llama';
  const h = c.hiddenSize;
  const out: PlanTensor[] = [];
  const put = (name: string, elements: number) => out.push({ name, elements });
  const linear = (name: string, i: number, o: number) => {
    put(`${name}.w`, i * o);
    if (biased) put(`${name}.b`, o);
  };
  const norm = (name: string) => {
    put(`${name}.scale`, h);
    if (c.norm === 'layernorm') put(`${name}.bias`, h);
  };
  put('emb.token', c.vocabSize * h);
  if (c.positions === 'learned') put('emb.position', c.maxPositions * h);
  if (c.typeVocabSize > 0) put('emb.tokenType', c.typeVocabSize * h);
  if (c.normPlacement === 'post') norm('emb.norm');
  for (let l = 0; l < c.numLayers; l++) {
    norm(`l${l}.attnNorm`);
    linear(`l${l}.qkv`, h, (c.numHeads + 2 * c.numKvHeads) * c.headDim);
    linear(`l${l}.o`, c.numHeads * c.headDim, h);
    norm(`l${l}.mlpNorm`);
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
  } else {
    put('head.w', h * c.vocabSize);
  }
  return out;
}

export interface InferencePlan {
  workload: PlanWorkload;
  network: PlanNetwork;
  /** Secure weight elements (fused q/k/v, a tied head counted as its own tensor, as the shares hold it). */
  weightElements: number;
  rounds: number;
  bytesPerParty: [number, number, number];
  maxBytesPerParty: number;
  diskPerParty: [number, number, number];
  memory: { baseline: number; weightBlocks: number; storePart: number; kvCache: number; activations: number; maxPerParty: number };
  macs: number;
  computeSeconds: number;
  projectedSeconds: number;
  byClass: Record<PlanClass, Cost>;
}

function planned(c: ModelConfig, w: PlanWorkload, fracBits: number): PlannedCost {
  if (w.kind === 'classify') return classificationCost(c, w.tokens, fracBits);
  return generationCost(c, w.promptTokens, w.newTokens, w.reveal ?? 'logits', fracBits);
}

/** The largest intermediate of any pass, in elements (one component). */
function largestIntermediate(c: ModelConfig, rows: number, keys: number): number {
  const up = c.mlp === 'swiglu' ? 2 * c.intermediateSize : c.intermediateSize;
  return Math.max(rows * c.vocabSize, c.numHeads * rows * keys, rows * up, rows * (c.numHeads + 2 * c.numKvHeads) * c.headDim);
}

export function planInference(
  c: ModelConfig, w: PlanWorkload, network: PlanNetwork = PLAN_NETWORKS.lan, fracBits = 18, blockWords = DEFAULT_BLOCK_WORDS,
): InferencePlan {
  const p = planned(c, w, fracBits);
  const tensors = secureTensorShapes(c);
  const weightElements = tensors.reduce((s, t) => s + t.elements, 0);
  const rows = w.kind === 'classify' ? w.tokens : w.promptTokens;
  const keys = w.kind === 'classify' ? w.tokens : w.promptTokens + w.newTokens - 1;
  const weightBlocks = 2 * 2 * WORD * Math.min(blockWords, Math.max(...tensors.map((t) => t.elements)));
  const storePart = Math.min(STORE_PART_BYTES, WORD * Math.max(...tensors.map((t) => t.elements)));
  const kvCache = w.kind === 'generate' ? 2 * 2 * WORD * c.numLayers * keys * c.numKvHeads * c.headDim : 0;
  const activations = ACTIVATION_COPIES * 2 * WORD * largestIntermediate(c, rows, keys);
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
      baseline: PARTY_BASELINE_BYTES, weightBlocks, storePart, kvCache, activations,
      maxPerParty: PARTY_BASELINE_BYTES + weightBlocks + storePart + kvCache + activations,
    },
    macs: p.macs,
    computeSeconds,
    projectedSeconds: computeSeconds + (p.cost.rounds * network.rttMs) / 1000 + (maxBytesPerParty * 8) / network.bitsPerSecond,
    byClass: p.byClass,
  };
}
