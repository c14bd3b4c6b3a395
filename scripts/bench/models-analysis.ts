/**
 * Pure analysis for the model bench: a party's profile tree (spanToJSON) split by operation class and by
 * layer, network projections, and the target comparison.
 *
 * Classes come from span names. The nn functions and protocol ops name their own spans (layerNorm, softmax,
 * geluTanh, matmul, ...), and a class span is charged with its whole subtree (a softmax's comparisons and
 * multiplications are softmax). Only the forward pass's structural spans (layer i, head, the 'norm' wrapper)
 * are descended into; any other span (input, the pooler's tanh, argmax) is charged to 'other' whole, and so is
 * whatever the total has beyond the spans (unprofiled local work).
 *
 * Fixed-point matmul fuses the multiplication with its truncation into one 2-round protocol whose messages all
 * travel inside the truncation step, so the profiler cannot see the multiplication's bytes. They are split by
 * the declared costs: the raw product alone would cost matmulRawCost (1 round, 1 word per output per party);
 * the rest of the fused cost (truncateProductCost) is charged to truncation. Time is measured: the 'truncate'
 * child span is truncation, the remainder of 'matmul' (the local products) is matmul.
 */
import { matmulRawCost, truncateProductCost } from '@puma/protocol';
import { median } from './report.ts';

/** One span as spanToJSON writes it. */
export interface ProfileNode {
  name: string;
  calls: number;
  rounds: number;
  bytesSent: number;
  ms: number;
  children: ProfileNode[];
}

export const OP_CLASSES = ['matmul', 'truncation', 'gelu', 'softmax', 'norm', 'embedding', 'reveal', 'other'] as const;
export type OpClass = (typeof OP_CLASSES)[number];

export const OP_CLASS_LABELS: Record<OpClass, string> = {
  matmul: 'matmul',
  truncation: 'truncation',
  gelu: 'GeLU / SwiGLU',
  softmax: 'softmax',
  norm: 'LayerNorm / RMSNorm',
  embedding: 'embedding',
  reveal: 'reveal',
  other: 'other',
};

export interface Cost {
  bytes: number;
  rounds: number;
  ms: number;
  /** Invocations of the spans charged (0 for 'other'). */
  calls: number;
}

const SPAN_CLASS: Record<string, OpClass> = {
  embedding: 'embedding',
  matmulRaw: 'matmul',
  matmulTerm: 'matmul',
  truncate: 'truncation',
  layerNorm: 'norm',
  rmsNorm: 'norm',
  softmax: 'softmax',
  gelu: 'gelu',
  geluTanh: 'gelu',
  geluPuma: 'gelu',
  swiglu: 'gelu',
  silu: 'gelu',
  reveal: 'reveal',
  revealToClient: 'reveal',
};

const isStructural = (name: string): boolean => name === 'root' || name === 'head' || name === 'norm' || /^layer \d+$/.test(name);

const zero = (): Cost => ({ bytes: 0, rounds: 0, ms: 0, calls: 0 });
const addTo = (acc: Cost, c: Cost): void => {
  acc.bytes += c.bytes;
  acc.rounds += c.rounds;
  acc.ms += c.ms;
  acc.calls += c.calls;
};
const costOf = (n: ProfileNode): Cost => ({ bytes: n.bytesSent, rounds: n.rounds, ms: n.ms, calls: n.calls });

/** A fused fixed-point matmul span split into its raw product and its truncation (see the file comment). */
export function splitFusedMatmul(n: ProfileNode, party: 0 | 1 | 2): { matmul: Cost; truncation: Cost } {
  const outputs = n.bytesSent / truncateProductCost(1).bytes[party];
  const raw = matmulRawCost(outputs);
  const truncMs = n.children.find((c) => c.name === 'truncate')?.ms ?? 0;
  const matmul = { bytes: raw.bytes[party], rounds: raw.rounds * n.calls, ms: n.ms - truncMs, calls: n.calls };
  return { matmul, truncation: { bytes: n.bytesSent - matmul.bytes, rounds: n.rounds - matmul.rounds, ms: truncMs, calls: n.calls } };
}

/**
 * Cost per operation class for one party. `total` is the party's whole inference (bytes sent, rounds, time);
 * 'other' receives what the class spans do not account for, so the classes sum to the total.
 */
export function breakdownByClass(root: ProfileNode, party: 0 | 1 | 2, total: Omit<Cost, 'calls'>): Record<OpClass, Cost> {
  const out = Object.fromEntries(OP_CLASSES.map((c) => [c, zero()])) as Record<OpClass, Cost>;
  const visit = (n: ProfileNode): void => {
    if (n.name === 'matmul') {
      const s = splitFusedMatmul(n, party);
      addTo(out.matmul, s.matmul);
      addTo(out.truncation, s.truncation);
    } else if (SPAN_CLASS[n.name]) {
      addTo(out[SPAN_CLASS[n.name]], costOf(n));
    } else if (isStructural(n.name)) {
      n.children.forEach(visit);
    }
  };
  root.children.forEach(visit);
  const classified = zero();
  for (const c of OP_CLASSES) if (c !== 'other') addTo(classified, out[c]);
  out.other = { bytes: total.bytes - classified.bytes, rounds: total.rounds - classified.rounds, ms: total.ms - classified.ms, calls: 0 };
  return out;
}

/** One forward pass: `rows` new positions attending to `keys` positions (keys = rows without a cache). */
export interface Pass {
  rows: number;
  keys: number;
}

/**
 * Elements each nonlinear class processes, from the shapes (for cost per element): GeLU/SwiGLU inputs, softmax
 * scores (heads × rows × keys, masked ones included: the mask is public structure, every score is computed),
 * and normalised elements (2 norms per layer, plus the final norm on the last row for pre-LN models or the
 * embedding norm on every row for post-LN ones, as secure/forward.ts applies them).
 */
export function elementCounts(c: { numLayers: number; hiddenSize: number; numHeads: number; intermediateSize: number; normPlacement: 'pre' | 'post' }, passes: readonly Pass[]): { gelu: number; softmax: number; norm: number } {
  let gelu = 0;
  let softmax = 0;
  let norm = 0;
  for (const { rows, keys } of passes) {
    gelu += rows * c.intermediateSize * c.numLayers;
    softmax += c.numHeads * rows * keys * c.numLayers;
    norm += (2 * c.numLayers * rows + (c.normPlacement === 'pre' ? 1 : rows)) * c.hiddenSize;
  }
  return { gelu, softmax, norm };
}

/** The top-level spans in program order (input, embedding, layer 0 .. L-1, head, revealToClient, ...). */
export function breakdownByLayer(root: ProfileNode): Array<{ name: string } & Cost> {
  return root.children.map((c) => ({ name: c.name, ...costOf(c) }));
}

export interface Network {
  name: string;
  bitsPerSecond: number;
  rttMs: number;
}

export const NETWORKS: Network[] = [
  { name: "PUMA's LAN (5 Gbps, 1 ms RTT)", bitsPerSecond: 5e9, rttMs: 1 },
  { name: 'WAN (100 Mbps, 30 ms RTT)', bitsPerSecond: 100e6, rttMs: 30 },
];

export const PROJECTION_FORMULA = 'projected s = compute s + rounds × RTT + (max bytes sent by one party × 8) / bandwidth';

/** Seconds on `net`, from the measured compute time, rounds and the busiest party's bytes (a projection). */
export function projectSeconds(computeSeconds: number, rounds: number, maxBytesPerParty: number, net: Network): number {
  if (!(computeSeconds >= 0) || !(rounds >= 0) || !(maxBytesPerParty >= 0)) throw new Error('projection needs non-negative time, rounds and bytes');
  return computeSeconds + (rounds * net.rttMs) / 1000 + (maxBytesPerParty * 8) / net.bitsPerSecond;
}

export type TargetKey = 'bytesPerParty' | 'rounds' | 'wallSeconds' | 'completionSeconds' | 'msPerToken';

export interface Target {
  what: string;
  key: TargetKey;
  limit: number;
}

export interface TargetCheck extends Target {
  measured: number;
  met: boolean;
}

export function checkTargets(targets: readonly Target[], measured: Record<TargetKey, number>): TargetCheck[] {
  return targets.map((t) => ({ ...t, measured: measured[t.key], met: measured[t.key] <= t.limit }));
}

/**
 * A generation's token times, from when the client had each token (ms after all parties were ready): the
 * first token (the prompt's pass), each later token's interval, and their median (NaN with one token only).
 */
export function tokenTimes(tokenAtMs: readonly number[]): { firstMs: number; intervalsMs: number[]; medianMs: number } {
  if (tokenAtMs.length === 0) throw new Error('token times: no token arrived');
  const intervalsMs = tokenAtMs.slice(1).map((t, i) => t - tokenAtMs[i]);
  return { firstMs: tokenAtMs[0], intervalsMs, medianMs: intervalsMs.length === 0 ? Number.NaN : median(intervalsMs) };
}

/** The class with the largest share of `key` (bytes, rounds or ms). */
export function dominant(b: Record<OpClass, Cost>, key: 'bytes' | 'rounds' | 'ms'): { cls: OpClass; value: number; share: number } {
  const total = OP_CLASSES.reduce((s, c) => s + b[c][key], 0);
  const cls = OP_CLASSES.reduce((best, c) => (b[c][key] > b[best][key] ? c : best), OP_CLASSES[0]);
  return { cls, value: b[cls][key], share: total > 0 ? b[cls][key] / total : 0 };
}
