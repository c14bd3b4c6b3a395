/**
 * Communication cost of a secure inference before anything runs: the secure forward pass (forward.ts) walked
 * op by op, each op charged its own declared cost (protocol's matmulCost, truncateCost, revealTermToClientCost,
 * inputCost, maxLastCost; nn's layerNormCost, layerNormOfResidualCost, rmsNormCost, their *MatmulCost forms
 * where a norm feeds its matmul (norms.ts normFeeds), attendOfProductCost, geluCost, geluTanhCost, swigluCost,
 * tanhCost), composed with seq() in program order as the pass awaits them. Nothing here states a cost of its
 * own, so a change to an op's protocol changes the plan with it; a change to the pass's structure (forward.ts,
 * norms.ts, attention.ts: an op added, fused or reordered) must be mirrored here, and plan-cost.test.ts, which
 * compares this with a real secure run of two real models, fails if it is not.
 * Also counts the multiply-adds of the local matrix products (for the plan's compute-time estimate).
 */
import {
  inputCost, matmulCost, matmulRawCost, maxLastCost, revealTermToClientCost, revealToClientCost, seq, truncateProductCost, type Cost,
} from '@puma/protocol';
import {
  attendIntoCost, attendOfProductCost, geluCost, geluTanhCost, layerNormCost, layerNormMatmulCost, layerNormMatmulFuses, layerNormMatmulTermCost, layerNormOfResidualCost, layerNormOfResidualMatmulCost,
  layerNormOfResidualMatmulFuses, layerNormOfResidualMatmulTermCost, rmsNormCost,
  rmsNormMatmulCost, rmsNormMatmulTermAtCost, rmsNormMatmulTermCost, swigluCost, tanhCost, type NormOptions,
} from '@puma/nn';
import type { ModelConfig } from '../types.ts';
import { normTakesSum, sumForm } from './model.ts';
import { normFeeds, normFeedsFromSum, normFeedsQkv, normFeedsQkvTerm, normHasBeta, normIntoQkvTerm, qkvColumns } from './norms.ts';
import { attentionFeedsOutput } from './attention.ts';
import { normOptions } from '../norm-windows.ts';
import { foldsNormAffine } from './norm-folding.ts';

/** One forward pass: `rows` new positions attending to `keys` positions (keys = rows without a cache). */
export interface PassShape {
  rows: number;
  keys: number;
}

export interface PlannedCost {
  cost: Cost;
  /** Multiply-adds of the plaintext matrix products (a party computes two local products per secure one). */
  macs: number;
  /** Cost per operation class, for the plan's breakdown. */
  byClass: Record<PlanClass, Cost>;
}

export const PLAN_CLASSES = ['input', 'embedding', 'matmul', 'norm', 'softmax', 'activation', 'rope', 'head', 'reveal'] as const;
export type PlanClass = (typeof PLAN_CLASSES)[number];

const ZERO: Cost = { rounds: 0, bytes: [0, 0, 0] };

/** Accumulates costs in program order, by class. */
class Tally {
  readonly parts: Cost[] = [];
  macs = 0;
  /** Norms whose beta W a fused pass has kept (norms.ts feeds): later passes multiply no beta row for them. */
  readonly keptBeta = new Set<string>();
  readonly byClass = Object.fromEntries(PLAN_CLASSES.map((c) => [c, ZERO])) as Record<PlanClass, Cost>;
  add(cls: PlanClass, c: Cost): void {
    this.parts.push(c);
    this.byClass[cls] = seq(this.byClass[cls], c);
  }
  /** A secure fixed-point matmul [m, k] x [k, n] per batch (forward.ts's matmul / linear). */
  matmul(cls: PlanClass, batch: number, m: number, k: number, n: number): void {
    this.add(cls, matmulCost(batch * m * n));
    this.macs += batch * m * k * n;
  }
  /** A secure ring matmul, reshared without truncation (forward.ts's matmulRaw). */
  matmulRaw(cls: PlanClass, batch: number, m: number, k: number, n: number): void {
    this.add(cls, matmulRawCost(batch * m * n));
    this.macs += batch * m * k * n;
  }
  /** A product left as each party's masked term for the client (head.ts): local, no round. */
  matmulTerm(m: number, k: number, n: number): void {
    this.macs += m * k * n;
  }
  result(): PlannedCost {
    return { cost: seq(...this.parts), macs: this.macs, byClass: this.byClass };
  }
}

/** Norm `name`'s options: its published window (norm-windows.ts), and no gamma where the owner folds it (norm-folding.ts). */
function normOptionsFor(c: ModelConfig, name: string): NormOptions {
  return foldsNormAffine(c, name) ? { ...normOptions(c, name), noScale: true } : normOptions(c, name);
}

/** Norm `name` (its published window, if any: norm-windows.ts) on `rows` rows. */
function norm(t: Tally, c: ModelConfig, name: string, rows: number, fracBits: number): void {
  const o = normOptionsFor(c, name);
  t.add('norm', c.norm === 'rmsnorm' ? rmsNormCost(rows, c.hiddenSize, c.normEps, o, fracBits) : layerNormCost(rows, c.hiddenSize, c.normEps, o, fracBits));
}

/** A norm whose input may be a residual sum's term (norms.ts normOfResidual): a LayerNorm centres it, an RMSNorm's is truncated first. */
function normOfResidual(t: Tally, c: ModelConfig, name: string, rows: number, fracBits: number, sum: boolean, cls: PlanClass = 'norm'): void {
  if (sum && c.norm === 'layernorm') {
    t.add(cls, layerNormOfResidualCost(rows, c.hiddenSize, c.normEps, normOptionsFor(c, name), fracBits));
    return;
  }
  truncatedSum(t, c, rows, sum);
  norm(t, c, name, rows, fracBits);
}

/**
 * A norm and the linear layer [hidden, out] it feeds (norms.ts normInto): the row scale after the product
 * where normFeeds (charged to `fused`), else the norm and then the matmul (charged to `unfused`). asTerm: the
 * product is left as each party's term for the client (head.ts normIntoTerm), so its truncation is not charged.
 */
function normInto(t: Tally, fused: PlanClass, unfused: PlanClass, c: ModelConfig, name: string, rows: number, out: number, keepY: boolean, fracBits: number, asTerm = false): void {
  const n = c.hiddenSize;
  const o = normOptionsFor(c, name);
  const row = betaRow(t, c, name);
  if (!normFeeds(rows, n, out, keepY, row)) {
    t.add(fused === 'head' ? 'head' : 'norm', c.norm === 'rmsnorm' ? rmsNormCost(rows, n, c.normEps, o, fracBits) : layerNormCost(rows, n, c.normEps, o, fracBits));
    if (asTerm) t.matmulTerm(rows, n, out);
    else t.matmul(unfused, 1, rows, n, out);
    return;
  }
  if (c.norm === 'rmsnorm') t.add(fused, asTerm ? rmsNormMatmulTermCost(rows, n, c.normEps, out, o, fracBits) : rmsNormMatmulCost(rows, n, c.normEps, out, keepY, o, fracBits));
  else t.add(fused, asTerm ? layerNormMatmulTermCost(rows, n, c.normEps, out, o, fracBits, row) : layerNormMatmulCost(rows, n, c.normEps, out, keepY, o, fracBits, row));
  if (row && layerNormMatmulFuses(n, c.normEps, o, fracBits)) t.keptBeta.add(name);
  t.macs += rows * n * out;
}

/** As norms.ts betaRow: a LayerNorm multiplies its beta row until a fused pass has kept beta W (never where the owner folded it). */
function betaRow(t: Tally, c: ModelConfig, name: string): boolean {
  return normHasBeta(c) && !foldsNormAffine(c, name) && !t.keptBeta.has(name);
}

/**
 * normOfResidual followed by the linear layer it feeds (norms.ts normOfResidualInto; head.ts normIntoTerm with
 * asTerm, the product left as each party's term for the client); sum: the residual is a sum's term. Charged to
 * `cls`, the unfused product to 'matmul' unless cls is the head.
 */
function normOfResidualInto(t: Tally, c: ModelConfig, name: string, rows: number, out: number, keepY: boolean, fracBits: number, sum: boolean, cls: PlanClass = 'norm', asTerm = false): void {
  const product: PlanClass = cls === 'norm' ? 'matmul' : cls;
  if (sum && c.norm === 'layernorm') return layerNormOfSumInto(t, c, name, rows, out, keepY, fracBits, cls, product, asTerm);
  if (sum && normFeedsFromSum(c, rows, out, keepY)) {
    const o = normOptionsFor(c, name);
    t.add(cls, asTerm ? rmsNormMatmulTermCost(rows, c.hiddenSize, c.normEps, out, o, fracBits, true) : rmsNormMatmulCost(rows, c.hiddenSize, c.normEps, out, keepY, o, fracBits, true));
    t.macs += rows * c.hiddenSize * out;
    return;
  }
  truncatedSum(t, c, rows, sum, product);
  normInto(t, cls, product, c, name, rows, out, keepY, fracBits, asTerm);
}

/** A LayerNorm of a sum's term and the linear layer it feeds (norms.ts layerNormOfSumInto, head.ts normIntoTerm): fused where normFeeds. */
function layerNormOfSumInto(t: Tally, c: ModelConfig, name: string, rows: number, out: number, keepY: boolean, fracBits: number, cls: PlanClass, product: PlanClass, asTerm: boolean): void {
  const o = normOptionsFor(c, name);
  const row = betaRow(t, c, name);
  if (!normFeeds(rows, c.hiddenSize, out, keepY, row)) {
    normOfResidual(t, c, name, rows, fracBits, true, cls);
    if (asTerm) t.matmulTerm(rows, c.hiddenSize, out);
    else t.matmul(product, 1, rows, c.hiddenSize, out);
    return;
  }
  t.add(cls, asTerm ? layerNormOfResidualMatmulTermCost(rows, c.hiddenSize, c.normEps, out, o, fracBits, row) : layerNormOfResidualMatmulCost(rows, c.hiddenSize, c.normEps, out, keepY, o, fracBits, row));
  if (row && layerNormOfResidualMatmulFuses(c.hiddenSize, c.normEps, o, fracBits)) t.keptBeta.add(name);
  t.macs += rows * c.hiddenSize * out;
}

/**
 * A RoPE model's attention norm into the qkv term (attention.ts qkvTermOfNorm): nn rmsNormMatmulTermAt (fused or
 * not, by its window) where normFeedsQkvTerm, else the norm (the term is local); sum: the residual is a sum's term.
 */
function attnNormIntoQkvTerm(t: Tally, c: ModelConfig, name: string, rows: number, fracBits: number, sum: boolean): void {
  const o = normOptionsFor(c, name);
  if (normFeedsQkvTerm(c, rows)) {
    t.add('norm', rmsNormMatmulTermAtCost(rows, c.hiddenSize, c.normEps, qkvColumns(c), 2 * fracBits, o, fracBits, sum));
    return;
  }
  truncatedSum(t, c, rows, sum);
  norm(t, c, name, rows, fracBits);
}
const mlpInWidth = (c: ModelConfig): number => (c.mlp === 'swiglu' ? 2 : 1) * c.intermediateSize;

/** A sublayer's output projection [T, k] x [k, hidden]: local when the next norm takes the sum's term. */
function projection(t: Tally, c: ModelConfig, T: number, k: number, form: 'resolved' | 'sum'): void {
  if (form === 'sum') t.matmulTerm(T, k, c.hiddenSize);
  else t.matmul('matmul', 1, T, k, c.hiddenSize);
}

/** A residual sum's term truncated where its norm cannot take it (model.ts resolvedInput), charged to `cls` (the matmul it ends, or the head). */
function truncatedSum(t: Tally, c: ModelConfig, rows: number, sum: boolean, cls: PlanClass = 'matmul'): void {
  if (sum) t.add(cls, truncateProductCost(rows * c.hiddenSize));
}

/** Attention; qkvFed: its norm already formed the qkv projection; into: it goes into its output projection's term (nn attendInto). */
function attention(t: Tally, c: ModelConfig, s: PassShape, qkvFed: boolean, into: boolean, fracBits: number): void {
  const { rows: T, keys } = s;
  const D = c.headDim;
  const H = c.numHeads;
  const KV = c.numKvHeads;
  if (c.positions === 'rope') {
    // Each party rotates its term of the qkv product; q and k truncated beside v (attention.ts projectQkv).
    t.macs += T * c.hiddenSize * (H + 2 * KV) * D;
    const [qk, v] = [truncateProductCost(T * (H + KV) * D), truncateProductCost(T * KV * D)];
    t.add('rope', { rounds: Math.max(qk.rounds, v.rounds), bytes: [0, 1, 2].map((i) => qk.bytes[i] + v.bytes[i]) as [number, number, number] });
  } else if (!qkvFed) {
    t.matmul('matmul', 1, T, c.hiddenSize, (H + 2 * KV) * D);
  }
  // The scores' product is only reshared; softmax truncates it beside its max and multiplies e V beside
  // its reciprocal (forward.ts, nn attendOfProduct; e V's multiply-adds counted here).
  t.matmulRaw('matmul', H, T, D, keys);
  // A causal pass exponentiates and compares only the visible scores (query i sees keys up to keys - T + i).
  const causal = c.causal ? { causal: { queryOffset: keys - T, queries: T } } : {};
  t.add('softmax', into ? attendIntoCost(H, T, keys, D, c.hiddenSize, causal, fracBits) : attendOfProductCost(H * T, keys, D, causal, fracBits));
  t.macs += H * T * keys * D;
  // The heads' block rows times W_o (attention.ts attentionInto): H T x H D x hidden multiply-adds.
  if (into) t.macs += H * T * H * D * c.hiddenSize;
}

/** The MLP after its first linear layer (which its norm feeds) up to its down projection (forward.ts mlpHidden). */
function mlp(t: Tally, c: ModelConfig, T: number): void {
  const I = c.intermediateSize;
  t.add('activation', c.mlp === 'swiglu' ? swigluCost(T * I) : c.activation === 'gelu_new' ? geluTanhCost(T * I) : geluCost(T * I));
}

/** secureHidden: embedding (one-hot times the table, exact) and every block. */
function hidden(t: Tally, c: ModelConfig, s: PassShape, fracBits: number): void {
  t.add('embedding', matmulRawCost(s.rows * c.hiddenSize));
  t.macs += s.rows * c.vocabSize * c.hiddenSize;
  // BERT's embedding LayerNorm (post-LN models carry one; pre-LN ones end with a final norm instead), fed into
  // layer 0's qkv unless RoPE takes the raw product.
  const feedsQkv = normFeedsQkv(c);
  if (c.normPlacement === 'post') {
    if (feedsQkv) normInto(t, 'norm', 'matmul', c, 'emb.norm', s.rows, qkvColumns(c), true, fracBits);
    else norm(t, c, 'emb.norm', s.rows, fracBits);
  }
  const T = s.rows;
  for (let l = 0; l < c.numLayers; l++) {
    const pre = c.normPlacement === 'pre';
    const last = l === c.numLayers - 1;
    // Pre-norm: the previous layer's MLP sum reaches this layer's first norm as its term (none before layer 0).
    const sumIn = pre && l > 0 && sumForm(c, true) === 'sum';
    if (pre && feedsQkv) normOfResidualInto(t, c, `l${l}.attnNorm`, T, qkvColumns(c), false, fracBits, sumIn);
    else if (pre && normIntoQkvTerm(c)) attnNormIntoQkvTerm(t, c, `l${l}.attnNorm`, T, fracBits, sumIn);
    else if (pre) normOfResidual(t, c, `l${l}.attnNorm`, T, fracBits, sumIn);
    const into = attentionFeedsOutput(c, T);
    attention(t, c, s, feedsQkv, into, fracBits);
    const attnOut = sumForm(c, true);
    if (!into) projection(t, c, T, c.numHeads * c.headDim, attnOut);
    normOfResidualInto(t, c, pre ? `l${l}.mlpNorm` : `l${l}.attnNorm`, T, mlpInWidth(c), !pre, fracBits, attnOut === 'sum');
    mlp(t, c, T);
    // The last layer's sum goes to the final norm as its term (forward.ts mlpBlock).
    const mlpOut = sumForm(c, !(pre && last) || normTakesSum(c));
    projection(t, c, T, c.intermediateSize, mlpOut);
    if (!pre && (last || !feedsQkv)) normOfResidual(t, c, `l${l}.mlpNorm`, T, fracBits, mlpOut === 'sum');
    else if (!pre) normOfResidualInto(t, c, `l${l}.mlpNorm`, T, qkvColumns(c), true, fracBits, mlpOut === 'sum');
  }
}

/** secureLogitsRows on `rows` rows: the final norm where the model has one, then the LM head. */
function lmHead(t: Tally, c: ModelConfig, rows: number, fracBits: number): void {
  if (c.normPlacement === 'pre') normOfResidualInto(t, c, 'final', rows, c.vocabSize, false, fracBits, normTakesSum(c), 'head');
  else t.matmul('head', 1, rows, c.hiddenSize, c.vocabSize);
}

/** secureLogitsRowsTerm (head.ts): lmHead with the head's product left as each party's term for the client. */
function lmHeadTerm(t: Tally, c: ModelConfig, rows: number, fracBits: number): void {
  if (c.normPlacement === 'pre') normOfResidualInto(t, c, 'final', rows, c.vocabSize, false, fracBits, normTakesSum(c), 'head', true);
  else t.matmulTerm(rows, c.hiddenSize, c.vocabSize);
}

function checkPass(s: PassShape, c: ModelConfig): void {
  if (!Number.isInteger(s.rows) || s.rows < 1 || !Number.isInteger(s.keys) || s.keys < s.rows) {
    throw new Error(`plan: a pass needs whole rows >= 1 and keys >= rows, got ${s.rows} rows, ${s.keys} keys`);
  }
  if (c.positions === 'learned' && s.keys > c.maxPositions) throw new Error(`plan: ${s.keys} positions exceed the model's ${c.maxPositions}`);
}

/**
 * generateParty: per step, the client's one-hot input, the pass (the prompt, then one token against the
 * cache), the last row's logits, and the reveal (all logits as each party's term, or the securely chosen token).
 */
export function generationCost(c: ModelConfig, promptTokens: number, newTokens: number, reveal: 'logits' | 'argmax' = 'logits', fracBits = 18): PlannedCost {
  if (c.arch === 'bert') throw new Error('plan: generation needs a causal LM; BERT classifies (use classificationCost)');
  if (!Number.isInteger(newTokens) || newTokens < 1) throw new Error(`plan: generated tokens must be a positive integer, got ${newTokens}`);
  const t = new Tally();
  for (let step = 0; step < newTokens; step++) {
    const s: PassShape = step === 0 ? { rows: promptTokens, keys: promptTokens } : { rows: 1, keys: promptTokens + step };
    checkPass(s, c);
    t.add('input', inputCost());
    hidden(t, c, s, fracBits);
    if (reveal === 'argmax') {
      lmHead(t, c, 1, fracBits);
      t.add('reveal', maxLastCost(1, c.vocabSize, true));
      t.add('reveal', revealToClientCost(1));
    } else {
      lmHeadTerm(t, c, 1, fracBits);
      t.add('reveal', revealTermToClientCost(c.vocabSize));
    }
  }
  return t.result();
}

/** classifyParty: the one-hot input, one pass, the pooler (linear + tanh on row 0), the classifier's term, its reveal. */
export function classificationCost(c: ModelConfig, tokens: number, fracBits = 18): PlannedCost {
  if (c.numLabels < 1) throw new Error('plan: classification needs a classifier head (numLabels >= 1)');
  const s: PassShape = { rows: tokens, keys: tokens };
  checkPass(s, c);
  const t = new Tally();
  t.add('input', inputCost());
  hidden(t, c, s, fracBits);
  t.matmul('head', 1, 1, c.hiddenSize, c.hiddenSize);
  t.add('head', tanhCost(c.hiddenSize));
  t.matmulTerm(1, c.hiddenSize, c.numLabels);
  t.add('reveal', revealTermToClientCost(c.numLabels));
  return t.result();
}
