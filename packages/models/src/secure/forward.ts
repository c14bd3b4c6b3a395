/**
 * The secure forward pass: the same computation as the plaintext reference (../forward*), op by op, on
 * replicated shares. Public: the architecture, shapes, positions and the causal structure. Secret: weights
 * (shared by the owner), tokens (the client shares one-hot rows), every activation, and the logits (revealed
 * to the client only).
 *
 * Weights are streamed (weight-stream.ts): every matrix, the embedding table and the head included, is used in
 * row blocks that are materialized, multiplied and released one after the other (streamed-matmul.ts), so a
 * party's memory holds one block and a prefetch of the next, plus activations and the KV cache, whatever the
 * depth and width; norms and biases are opened whole while they are used. The source is the party's share store
 * or an in-memory bundle; the result is bit-identical either way, and to the whole-matrix matmul.
 *
 * Embedding: one-hot [T, vocab] (integer 0/1) times the shared table is exact in the ring (matmulRaw, no
 * truncation). Position and token-type rows are selected locally, since positions are public.
 *
 * Truncations off the critical path (issue 12): a product whose consumer can start on the untruncated value is
 * only reshared (1 round) and the consumer truncates it beside its first step. The attention scores go to
 * softmax that way (nn softmax.ts: the max compares the product), and softmax's division moves after the
 * product with V (attendOfProduct: e V beside 1/sum, 2 rounds fewer; values must stay below
 * attentionValueBound(keys): 32768 at 32 keys, 1024 at 1024); in LayerNorm models, each sublayer's output
 * projection goes into the next LayerNorm as a residual sum base + product / 2^f (nn layernorm-residual.ts: the
 * mean is truncated beside the residual). One round per softmax and per such norm; every norm that follows
 * a matmul except the final one (secureHidden returns the resolved stream). RMSNorm has no mean to overlap,
 * so LLaMA-style models keep the fused truncation there; their RoPE instead rotates each party's term of the
 * qkv product and truncates once (projectQkv, the matmul's 2 rounds instead of 4; rotated values below 1024),
 * and their attention norm applies its row scale to that term (qkvTermOfNorm, nn rmsNormMatmulTermAt: R and
 * the product share the term's 2f fraction bits, on a published window of up to 23 or 24 octaves): the norm
 * and the qkv projection take 5 + 2 rounds instead of 7 + 2.
 *
 * Norms feed their matmul with the row scale applied after the product (nn norm-matmul.ts: y W = R (m W) +
 * beta W, m W formed while R is computed): 2 rounds fewer per norm that feeds a matmul, where the extra bytes
 * are worth it (normFeeds): the attention norm into qkv (with RoPE as the product's term, above),
 * the MLP norm into up / w13, the final norm into the head; post-norm models (BERT) also keep y for the
 * residual and feed each block's output norm (and the embedding norm) into the next layer's qkv. A LayerNorm's
 * beta W (one more row of the fed matmul) is kept by the first pass that multiplies it and reused by the job's
 * later passes (feeds: beta and W are weights).
 *
 * The outputs (the LM head, BERT's classifier, and the terms the client receives) are in head.ts.
 */
import {
  add, concatFlat, matmulRaw, mulPublicInt, reshape, sliceFlat, sliceLast,
  tileLeading, transpose, truncateProduct, type AShare, type Party,
} from '@puma/protocol';
import type { Buf } from '@puma/backend';
import {
  attendInto, attendOfProduct, attentionOutputBound, gelu, geluTanh, LAN_BYTES_PER_ROUND, layerNorm, layerNormMatmul, layerNormOfResidual, layerNormOfResidualMatmul, rmsNorm, rmsNormFusesTermAt,
  rmsNormMatmul, rmsNormMatmulTermAt, sumShift, swiglu, type BetaProductStore, type NormInput, type NormMatmul, type NormOptions, type SumTerm,
} from '@puma/nn';
import { checkNormWindows, normOptions } from '../norm-windows.ts';
import { foldsNormAffine } from './norm-folding.ts';
import type { ModelConfig } from '../types.ts';
import { rotatedQkv, type Qkv } from './rope-qkv.ts';
import { linearMatmul, linearMatmulTerm, linearWeight } from './linear-weight.ts';
import { streamedMatmulRaw, streamedMatmulTerm } from './streamed-matmul.ts';
import { asWeightSource, type SecureWeights } from './weight-source.ts';
import { WeightStream } from './weight-stream.ts';

export interface SecureModel {
  config: ModelConfig;
  weights: WeightStream;
  /** beta W of each LayerNorm that fed its matmul, kept for the job's later passes (nn BetaProductStore), by norm. */
  betaProducts: Map<string, { zBits: number; betaW: AShare }>;
}

export interface LoadOptions {
  /** Words per component of one weight block (default DEFAULT_BLOCK_WORDS); the result does not depend on it. */
  blockWords?: number;
}

/** Binds the weights to this party; nothing is read or expanded until the pass uses it. */
export function loadSecureModel(p: Party, weights: SecureWeights, o: LoadOptions = {}): SecureModel {
  const source = asWeightSource(weights);
  const { manifest } = source;
  if (manifest.fracBits !== p.fracBits) throw new Error(`weights were shared with ${manifest.fracBits} fraction bits, the session uses ${p.fracBits}`);
  checkNormWindows(manifest.config, manifest.fracBits);
  return { config: manifest.config, weights: new WeightStream(p, source, o.blockWords), betaProducts: new Map() };
}

/** Per layer: keys and values of every position so far, [T, KV * D] each (time-major, so appending is a concat). */
export interface KvCache {
  length: number;
  k: AShare[];
  v: AShare[];
}

export function emptyCache(): KvCache {
  return { length: 0, k: [], v: [] };
}

/** Runs `f` with the whole tensor `name` open, then releases it (f's result must not alias it). */
export async function withWeight<T>(m: SecureModel, name: string, f: (w: AShare) => Promise<T> | T): Promise<T> {
  const w = await m.weights.whole(name);
  try {
    return await f(w);
  } finally {
    m.weights.close(w);
  }
}

/**
 * A copy of the small tensor `name` (a norm's scale or bias), its weight closed at once: the fused norms
 * (normInto) use it while their streamed matmul opens blocks, which keeps at most one block and its prefetch
 * resident.
 */
export function copyOf(p: Party, m: SecureModel, name: string): Promise<AShare> {
  return withWeight(m, name, (w) => mulPublicInt(p, w, 1));
}

/**
 * Whether the owner folded norm `name`'s gamma and beta into the matmul it feeds: its sharing has neither (a
 * sharing made before folding has both and runs unfolded). Only norms that norm-folding.ts folds may lack them,
 * and a norm has both or neither, so a sharing that lost a tensor fails by name instead of running a wrong model.
 */
export function normFolded(m: SecureModel, name: string): boolean {
  const scale = m.weights.has(`${name}.scale`);
  const bias = m.weights.has(`${name}.bias`);
  if (scale) {
    if (m.config.norm === 'layernorm' && !bias) throw new Error(`secure pass: the sharing has ${name}.scale but not ${name}.bias`);
    return false;
  }
  if (bias) throw new Error(`secure pass: the sharing has ${name}.bias but not ${name}.scale`);
  if (!foldsNormAffine(m.config, name)) throw new Error(`secure pass: the sharing has no ${name}.scale, and ${name} is not a norm the owner folds into its matmul`);
  return true;
}

/** Copies of norm `name`'s gamma and beta (copyOf; beta null for RMSNorm); both null where the owner folded them. */
export async function normAffine(p: Party, m: SecureModel, name: string): Promise<{ scale: AShare | null; bias: AShare | null }> {
  if (normFolded(m, name)) return { scale: null, bias: null };
  const scale = await copyOf(p, m, `${name}.scale`);
  return { scale, bias: m.config.norm === 'rmsnorm' ? null : await copyOf(p, m, `${name}.bias`) };
}

/** y + the bias of `name`, if the model has one. */
async function addBias(p: Party, m: SecureModel, name: string, y: AShare): Promise<AShare> {
  if (!m.weights.has(`${name}.b`)) return y;
  return withWeight(m, `${name}.b`, (b) => add(p, y, reshape(tileLeading(p, b, y.shape[0]), y.shape)));
}

export async function linear(p: Party, m: SecureModel, name: string, x: AShare): Promise<AShare> {
  return addBias(p, m, name, await linearMatmul(p, m.weights, name, x));
}

/** A residual sum base + product / 2^f whose last term, a matmul, is only reshared (product at 2f); or resolved (product null). */
interface Residual {
  base: AShare;
  product: AShare | null;
  /**
   * Pre-norm RMSNorm models: the whole sum as this party's masked term (at 2f: base 2^f plus the product's term;
   * attendInto's at f plus its reciprocal's bits: SumTerm.fracBits),
   * which the next norm truncates, starting from its rows' squares (nn NormInput); base is the sum without the
   * product then.
   */
  sum?: SumTerm;
  /** The next layer's qkv projection of base, where the norm that made base fed it (post-norm models). */
  qkv?: AShare;
}

/** LayerNorm models hand sublayer outputs to the next norm untruncated; RMSNorm has no mean to overlap. */
export function normTakesProduct(c: ModelConfig): boolean {
  return c.norm === 'layernorm';
}

/** Pre-norm RMSNorm models hand sublayer outputs to the next norm as the sum's term (Residual.sum). */
export function normTakesSum(c: ModelConfig): boolean {
  return c.norm === 'rmsnorm' && c.normPlacement === 'pre';
}

/**
 * residual + linear(x): 'resolved'; 'product', only reshared (the next LayerNorm truncates it); 'sum', the
 * whole sum as each party's term (the next RMSNorm truncates it with its rows' squares: no round here).
 */
async function linearInto(p: Party, m: SecureModel, name: string, x: AShare, residual: AShare, into: 'resolved' | 'product' | 'sum'): Promise<Residual> {
  if (into === 'resolved') return { base: add(p, residual, await linear(p, m, name, x)), product: null };
  const base = await addBias(p, m, name, residual);
  if (into === 'product') return { base, product: await streamedMatmulRaw(p, m.weights, `${name}.w`, x) };
  const be = p.backend;
  const t = await linearMatmulTerm(p, m.weights, name, x);
  // A replicated share's component 0, summed over the parties, is the value: base joins the term at 2f.
  const scaled = be.mulScalar(base.s0, 1n << BigInt(p.fracBits));
  const term = be.add(t.z, scaled);
  p.drop(t.z, scaled);
  return { base, product: null, sum: { term, shape: base.shape } };
}

/** The sublayer output's form for the next norm (linearInto), `next` whether a norm takes it (not the last layer's). */
export function sumForm(c: ModelConfig, next: boolean): 'resolved' | 'product' | 'sum' {
  if (!next) return 'resolved';
  return normTakesProduct(c) ? 'product' : normTakesSum(c) ? 'sum' : 'resolved';
}

/** A residual whose sum is a term, truncated (2 rounds) where its norm cannot take it as it is. */
async function truncatedSum(p: Party, r: Residual): Promise<Residual> {
  return r.sum ? { base: await resolvedInput(p, r.sum), product: null } : r;
}

/**
 * The matmul `into` (weight `into`.w, streamed) as the product norm `norm` feeds; its bias is added after. The
 * norm's beta W is kept in m.betaProducts by the first pass that multiplies it, for the later ones.
 */
export function feeds(m: SecureModel, norm: string, into: string, keepY: boolean): NormMatmul {
  const betaProduct: BetaProductStore = {
    get: (zBits) => {
      const kept = m.betaProducts.get(norm);
      if (kept && kept.zBits !== zBits) throw new Error(`secure pass: ${norm}'s kept beta W is at ${kept.zBits} fraction bits, this pass needs ${zBits}`);
      return kept?.betaW;
    },
    keep: (zBits, betaW) => m.betaProducts.set(norm, { zBits, betaW }),
  };
  return { matmul: (q, x, bits) => linearMatmul(q, m.weights, into, x, bits), out: linearWeight(m.weights, into).out, keepY, betaProduct };
}

/** Whether a fused pass of norm `name` multiplies a beta row: LayerNorm, until a pass has kept its beta W. */
export function betaRow(m: SecureModel, name: string): boolean {
  return normHasBeta(m.config) && !normFolded(m, name) && !m.betaProducts.has(name);
}

/**
 * Largest number of extra products a fused norm may cost: R (m W) multiplies rows x out values instead of the
 * rows x n of R m (all rows x out with keepY, which keeps R m too), and a LayerNorm's beta rides as one more row
 * of the matmul, so its product truncates (rows + 1) x out values instead of rows x out. One product with its
 * truncation sends about 8/3 words (21.3 bytes) per party once the dealers rotate; the 2 rounds saved are worth
 * 1.25 MB on PUMA's LAN (5 Gbps, 1 ms per round), so up to 58,593 products. GPT-2-base's 32-token prompt: qkv
 * (51,456) fuses, the MLP's up projection (76,800) and the head (99,746: its beta row alone is 50,257) do not;
 * a generated token fuses qkv and the up projection, not the head (before the beta row was counted the head
 * fused, at about 2.1 MB more per party for 2 rounds); BERT-base at 128 tokens (297,216 and more) does not. On a
 * 100 Mbit/s WAN at 30 ms two rounds are worth 750 KB (35,156 products).
 */
export const NORM_FEED_LIMIT = Math.floor((2 * LAN_BYTES_PER_ROUND) / (64 / 3));

/** Does a norm of `rows` rows of width n feed its product with `out` columns (y kept or not; a beta row or not)? */
export function normFeeds(rows: number, n: number, out: number, keepY: boolean, beta: boolean): boolean {
  return (rows + (beta ? 1 : 0)) * out - (keepY ? 0 : rows * n) <= NORM_FEED_LIMIT;
}

/** Whether the model's norms have a beta (LayerNorm) that rides as a row of a fed matmul (RMSNorm has none). */
export function normHasBeta(c: ModelConfig): boolean {
  return c.norm !== 'rmsnorm';
}

/** Does an RMSNorm taking a residual sum's term (normTakesSum) feed its matmul of `out` columns with it (else the sum is truncated first)? */
export function normFeedsFromSum(c: ModelConfig, rows: number, out: number, keepY: boolean): boolean {
  return normTakesSum(c) && normFeeds(rows, c.hiddenSize, out, keepY, false);
}

/** Does the attention norm of this model feed qkv directly (RoPE rotates the raw product instead)? */
export function normFeedsQkv(c: ModelConfig): boolean {
  return c.positions !== 'rope';
}

/**
 * Does the attention norm of this RoPE model feed its qkv term (nn rmsNormMatmulTermAt: the product's term at
 * 2f fraction bits, which rope-qkv.ts rotates and truncates), for `rows` rows? Pre-norm RMSNorm models, where
 * normFeeds, and the norm's window lets R and z share the 2f bits (else the norm, then the term).
 */
export function normFeedsQkvTerm(c: ModelConfig, rows: number, fracBits: number, o: NormOptions): boolean {
  if (!normIntoQkvTerm(c)) return false;
  return normFeeds(rows, c.hiddenSize, qkvColumns(c), false, false) && rmsNormFusesTermAt(c.hiddenSize, c.normEps, 2 * fracBits, o, fracBits);
}

/** RoPE models whose attention norm goes to the qkv term (qkvTermOfNorm: fused or not, by normFeedsQkvTerm). */
export function normIntoQkvTerm(c: ModelConfig): boolean {
  return c.positions === 'rope' && c.norm === 'rmsnorm' && c.normPlacement === 'pre';
}

/** Columns of the fused qkv projection. */
export function qkvColumns(c: ModelConfig): number {
  return (c.numHeads + 2 * c.numKvHeads) * c.headDim;
}

/** A norm's output and the linear layer it feeds: y (null unless kept) and linear(name, y). */
interface Fed {
  y: AShare | null;
  out: AShare;
}

/**
 * norm(x) and linear(into, norm(x)): with the row scale after the product (nn norm-matmul.ts, in a 'norm' span)
 * where normFeeds, else the norm (in its span) and then the linear layer; x as well. A residual sum's term goes
 * in as it is where normFeedsFromSum, else truncated first.
 */
export async function normInto(p: Party, m: SecureModel, name: string, input: NormInput, into: string, keepY: boolean): Promise<Fed & { x: AShare }> {
  const c = m.config;
  const out = linearWeight(m.weights, into).out;
  if ('term' in input && normFeedsFromSum(c, input.shape[0], out, keepY)) {
    const mm = feeds(m, name, into, keepY);
    const { scale } = await normAffine(p, m, name);
    const r = await p.profile('norm', () => rmsNormMatmul(p, input, scale, c.normEps, mm, normOptions(c, name)));
    p.drop(input.term);
    return { x: r.d, y: r.y, out: await addBias(p, m, into, r.yw) };
  }
  const x = await resolvedInput(p, input);
  if (!normFeeds(x.shape[0], c.hiddenSize, out, keepY, betaRow(m, name))) {
    const y = await p.profile('norm', () => norm(p, m, name, x));
    return { x, y, out: await linear(p, m, into, y) };
  }
  const mm = feeds(m, name, into, keepY);
  const { scale, bias } = await normAffine(p, m, name);
  const r = await p.profile('norm', async () => {
    if (c.norm === 'rmsnorm') return rmsNormMatmul(p, x, scale, c.normEps, mm, normOptions(c, name));
    return layerNormMatmul(p, x, scale, bias, c.normEps, mm, normOptions(c, name));
  });
  return { x, y: r.y, out: await addBias(p, m, into, r.yw) };
}

export async function norm(p: Party, m: SecureModel, name: string, x: AShare): Promise<AShare> {
  const c = m.config;
  const { scale, bias } = await normAffine(p, m, name);
  if (c.norm === 'rmsnorm') return rmsNorm(p, x, scale, c.normEps, normOptions(c, name));
  return layerNorm(p, x, scale, bias, c.normEps, normOptions(c, name));
}

/** The norm of a residual sum: x (resolved; null when the product is folded and x is not kept) and norm(x). */
async function normOfResidual(p: Party, m: SecureModel, name: string, residual: Residual, keepSum: boolean): Promise<{ x: AShare | null; y: AShare }> {
  const r = await truncatedSum(p, residual);
  return p.profile('norm', async () => {
    const { product } = r;
    if (!product) return { x: r.base, y: await norm(p, m, name, r.base) };
    const { scale, bias } = await normAffine(p, m, name);
    return layerNormOfResidual(p, r.base, product, scale, bias, m.config.normEps, normOptions(m.config, name), keepSum);
  });
}

/** normOfResidual followed by linear `into` (fused as normInto): x as there, y (when kept, or unfused) and the linear's output. */
async function normOfResidualInto(p: Party, m: SecureModel, name: string, residual: Residual, keepSum: boolean, into: string, keepY: boolean): Promise<Fed & { x: AShare | null }> {
  const r = residual;
  const { product } = r;
  if (!product) return normInto(p, m, name, r.sum ?? r.base, into, keepY);
  if (!normFeeds(r.base.shape[0], m.config.hiddenSize, linearWeight(m.weights, into).out, keepY, betaRow(m, name))) {
    const n = await normOfResidual(p, m, name, r, keepSum);
    return { ...n, out: await linear(p, m, into, n.y) };
  }
  const mm = feeds(m, name, into, keepY);
  const { scale, bias } = await normAffine(p, m, name);
  const o = await p.profile('norm', () => layerNormOfResidualMatmul(p, r.base, product, scale, bias, m.config.normEps, mm, keepSum, normOptions(m.config, name)));
  return { x: o.x, y: o.y, out: await addBias(p, m, into, o.yw) };
}

/** Rows [start, start + count) of a [rows, cols] share (public indices: local). */
export function rows(p: Party, x: AShare, start: number, count: number): AShare {
  const cols = x.shape[1];
  return sliceFlat(p, x, start * cols, [count, cols]);
}

/** Rows [start, start + count) of weight `name`, added to x (public indices: only those rows are read). */
async function addWeightRows(p: Party, m: SecureModel, name: string, x: AShare, start: number, count: number): Promise<AShare> {
  const w = await m.weights.rows(name, start, start + count);
  try {
    return add(p, x, reshape(count === x.shape[0] ? w : tileLeading(p, w, x.shape[0]), x.shape));
  } finally {
    m.weights.close(w);
  }
}

async function embed(p: Party, m: SecureModel, oneHot: AShare, pos0: number): Promise<Residual> {
  const c = m.config;
  const T = oneHot.shape[0];
  let x = await p.profile('embedding', () => streamedMatmulRaw(p, m.weights, 'emb.token', oneHot));
  if (c.positions === 'learned') {
    if (pos0 + T > c.maxPositions) throw new Error(`sequence of ${pos0 + T} positions exceeds the model's ${c.maxPositions}`);
    x = await addWeightRows(p, m, 'emb.position', x, pos0, T);
  }
  if (m.weights.has('emb.tokenType')) x = await addWeightRows(p, m, 'emb.tokenType', x, 0, 1);
  if (!m.weights.has('emb.norm.scale')) return { base: x, product: null };
  if (!normFeedsQkv(c)) return { base: await p.profile('norm', () => norm(p, m, 'emb.norm', x)), product: null };
  const fed = await normInto(p, m, 'emb.norm', x, 'l0.qkv', true);
  return { base: fed.y as AShare, product: null, qkv: fed.out };
}

/**
 * This party's 3-of-3 term of norm(x) W_qkv at 2f fraction bits: the norm's row scale applied to the product's
 * term (nn rmsNormMatmulTermAt) where normFeedsQkvTerm, else the norm (in its span) and then the term.
 */
async function qkvTermOfNorm(p: Party, m: SecureModel, l: number, name: string, r: Residual): Promise<{ term: Buf; x: AShare }> {
  const c = m.config;
  const into = `l${l}.qkv`;
  if (!normFeedsQkvTerm(c, r.base.shape[0], p.fracBits, { ...normOptions(c, name), noScale: normFolded(m, name) })) {
    const x = (await truncatedSum(p, r)).base;
    const y = await p.profile('norm', () => norm(p, m, name, x));
    return { term: await streamedMatmulTerm(p, m.weights, `${into}.w`, y), x };
  }
  const mm = { ...feeds(m, name, into, false), matmulTerm: (q: Party, y: AShare) => linearMatmulTerm(q, m.weights, into, y) };
  const { scale } = await normAffine(p, m, name);
  const t = await p.profile('norm', () => rmsNormMatmulTermAt(p, r.sum ?? r.base, scale, c.normEps, mm, 2 * p.fracBits, normOptions(c, name)));
  if (r.sum) p.drop(r.sum.term);
  return { term: t.z, x: t.d };
}

/**
 * q, k (rotated) and v from the fused qkv projection of x (or its term, where the attention norm formed it:
 * RoPE models, qkvTermOfNorm). RoPE models: each party's 3-of-3 term of the product, with the bias's component
 * added at 2f bits, is rotated and truncated by rope-qkv.ts (the matmul's 2 rounds). Others: the fused matmul.
 */
async function projectQkv(p: Party, m: SecureModel, l: number, x: AShare, pos0: number, fed?: AShare, fedTerm?: Buf): Promise<Qkv> {
  const c = m.config;
  const [H, KV, D] = [c.numHeads, c.numKvHeads, c.headDim];
  if (c.positions !== 'rope') {
    const qkv = fed ?? (await linear(p, m, `l${l}.qkv`, x));
    return { q: sliceLast(p, qkv, 0, H * D), k: sliceLast(p, qkv, H * D, KV * D), v: sliceLast(p, qkv, (H + KV) * D, KV * D) };
  }
  const be = p.backend;
  const f = p.fracBits;
  const T = x.shape[0];
  let term = fedTerm ?? (await streamedMatmulTerm(p, m.weights, `l${l}.qkv.w`, x));
  if (m.weights.has(`l${l}.qkv.b`)) {
    // A replicated share's component 0, summed over the parties, is the value: the bias joins the 3-of-3 term.
    const biased = await withWeight(m, `l${l}.qkv.b`, (b) => {
      const scaled = mulPublicInt(p, b, 2n ** BigInt(f));
      const tiled = tileLeading(p, scaled, T);
      const sum = be.add(term, tiled.s0);
      p.drop(scaled.s0, scaled.s1, tiled.s0, tiled.s1);
      return sum;
    });
    be.release(term);
    term = biased;
  }
  return rotatedQkv(p, c, term, T, pos0);
}

/** [T, heads * D] -> [heads, T, D]. */
function splitHeads(p: Party, x: AShare, heads: number, D: number): AShare {
  return transpose(p, reshape(x, [x.shape[0], heads, D]), [1, 0, 2]);
}

/** GQA: kv head g serves query heads g*rep .. g*rep+rep-1; [KV, T, D] -> [KV * rep, T, D]. */
function repeatKv(p: Party, x: AShare, rep: number): AShare {
  if (rep === 1) return x;
  const [KV, T, D] = x.shape;
  return reshape(transpose(p, tileLeading(p, x, rep), [1, 0, 2, 3]), [KV * rep, T, D]);
}

/** The attention's untruncated scores [H, T, keys] (2f fraction bits) and the values per head [H, keys, D]; the cache takes k and v. */
async function scoresAndValues(p: Party, m: SecureModel, l: number, x: AShare, cache: KvCache | null, pos0: number, qkv?: AShare, qkvTerm?: Buf): Promise<{ scores: AShare; vh: AShare }> {
  const c = m.config;
  const T = x.shape[0];
  const D = c.headDim;
  const H = c.numHeads;
  const KV = c.numKvHeads;
  const { q, k, v } = await projectQkv(p, m, l, x, pos0, qkv, qkvTerm);
  let kAll = k;
  let vAll = v;
  if (cache) {
    if (cache.k[l]) {
      kAll = reshape(concatFlat(p, [cache.k[l], k]), [cache.k[l].shape[0] + T, KV * D]);
      vAll = reshape(concatFlat(p, [cache.v[l], v]), [cache.v[l].shape[0] + T, KV * D]);
    }
    cache.k[l] = kAll;
    cache.v[l] = vAll;
  }
  const kh = repeatKv(p, splitHeads(p, kAll, KV, D), H / KV);
  const vh = repeatKv(p, splitHeads(p, vAll, KV, D), H / KV);
  // The scores stay untruncated (2f fraction bits, 1 round): softmax truncates them beside its max's first
  // comparisons, which read the product directly, and forms e V beside 1/sum (nn softmax.ts attendOfProduct).
  const scores = await matmulRaw(p, splitHeads(p, q, H, D), kh, { transB: true });
  return { scores, vh };
}

const causalOptions = (c: ModelConfig, pos0: number) => (c.causal ? { causal: { queryOffset: pos0 } } : {});

/**
 * Attention up to the output projection: the heads' contexts merged, [T, H * D] (qkv: x's projection, if a norm
 * fed it; qkvTerm: its term, where the attention norm formed it, RoPE models).
 */
async function attentionContext(p: Party, m: SecureModel, l: number, x: AShare, cache: KvCache | null, pos0: number, qkv?: AShare, qkvTerm?: Buf): Promise<AShare> {
  const c = m.config;
  const { scores, vh } = await scoresAndValues(p, m, l, x, cache, pos0, qkv, qkvTerm);
  // nn's default max groups (32: one level of all-pairs narrow comparisons for up to 32 keys).
  const ctx = await p.profile('softmax', () => attendOfProduct(p, scores, vh, causalOptions(c, pos0)));
  return reshape(transpose(p, ctx, [1, 0, 2]), [x.shape[0], c.numHeads * c.headDim]);
}

/**
 * Does the attention of `rows` queries go straight into its output projection's term (nn attendInto, 2 rounds
 * fewer: the context's product and truncation)? RoPE RMSNorm models (whose attention norm forms the qkv term,
 * normIntoQkvTerm) whose residual sums may reach ATTENTION_OUTPUT_FLOOR at their longest sequence (the term's
 * domain narrows with the keys: 2,048 at 512 positions, 32 at 32,768), where the next norm takes the sum's term, and the heads'
 * products u_h (heads x rows x hidden truncations instead of the context's rows x heads x D) cost less than the
 * two rounds on PUMA's LAN (NORM_FEED_LIMIT): a decoding step of stories260K (8 x 64) or GPT-2-base-sized
 * RMSNorm models (12 x 768), not LLaMA-7B's (32 x 4096) nor long prompts.
 */
export function attentionFeedsOutput(c: ModelConfig, rows: number): boolean {
  const extra = c.numHeads * rows * c.hiddenSize - rows * c.numHeads * c.headDim;
  const roomy = attentionOutputBound(c.maxPositions) >= ATTENTION_OUTPUT_FLOOR;
  return normIntoQkvTerm(c) && sumForm(c, true) === 'sum' && roomy && extra <= NORM_FEED_LIMIT;
}

/**
 * Smallest bound on the residual sum |x + o| for which the attention goes into its output projection: models with
 * long contexts keep the context's product instead of a domain that real residual streams (hundreds in some
 * dimensions) would leave. The owner's domain check reads the sums against the bound ('attention output sum').
 */
export const ATTENTION_OUTPUT_FLOOR = 2 ** 11;

/** Attention and its output projection as the residual sum's term (nn attendInto), base the residual. */
async function attentionInto(p: Party, m: SecureModel, l: number, x: AShare, cache: KvCache | null, pos0: number, qkvTerm: Buf | undefined): Promise<Residual> {
  const c = m.config;
  const { scores, vh } = await scoresAndValues(p, m, l, x, cache, pos0, undefined, qkvTerm);
  const name = `l${l}.o`;
  const base = await addBias(p, m, name, x);
  const proj = { matmul: (q: Party, blocks: AShare) => linearMatmul(q, m.weights, name, blocks), out: c.hiddenSize };
  const sum = await p.profile('softmax', () => attendInto(p, scores, vh, proj, base, causalOptions(c, pos0)));
  return { base, product: null, sum };
}

/** The MLP's first linear layer (the one its norm feeds). */
function mlpIn(c: ModelConfig, l: number): string {
  return c.mlp === 'swiglu' ? `l${l}.w13` : `l${l}.up`;
}

/** The MLP from its first linear layer's output up to its down projection, and that projection's name. */
async function mlpHidden(p: Party, m: SecureModel, l: number, up: AShare): Promise<{ h: AShare; down: string }> {
  const c = m.config;
  if (c.mlp === 'swiglu') {
    const ab = up;
    const a = sliceLast(p, ab, 0, c.intermediateSize);
    const b = sliceLast(p, ab, c.intermediateSize, c.intermediateSize);
    return { h: await p.profile('swiglu', () => swiglu(p, a, b)), down: `l${l}.w2` };
  }
  return { h: await p.profile('gelu', () => (c.activation === 'gelu_new' ? geluTanh(p, up) : gelu(p, up))), down: `l${l}.down` };
}

/**
 * One layer on the residual stream x. Pre-norm: x + attn(norm(x)), then + mlp(norm(.)); the MLP's sum stays
 * untruncated for the next layer's norm unless this is the last layer. Post-norm: norm(x + attn(x)), then
 * norm(. + mlp(.)). Norms run in 'norm' spans, sublayers outside them.
 */
async function block(p: Party, m: SecureModel, l: number, x: Residual, last: boolean, cache: KvCache | null, pos0: number): Promise<Residual> {
  const c = m.config;
  return p.profile(`layer ${l}`, async () => {
    if (c.normPlacement === 'pre') {
      let context: AShare;
      let attnIn: AShare;
      if (normFeedsQkv(c)) {
        const n1 = await normOfResidualInto(p, m, `l${l}.attnNorm`, x, true, `l${l}.qkv`, false);
        attnIn = n1.x as AShare;
        context = await attentionContext(p, m, l, attnIn, cache, pos0, n1.out);
      } else if (normIntoQkvTerm(c) && !x.product) {
        const qt = await qkvTermOfNorm(p, m, l, `l${l}.attnNorm`, x);
        attnIn = qt.x;
        if (attentionFeedsOutput(c, attnIn.shape[0])) {
          const a = await attentionInto(p, m, l, attnIn, cache, pos0, qt.term);
          return mlpBlock(p, m, l, a, last);
        }
        context = await attentionContext(p, m, l, attnIn, cache, pos0, undefined, qt.term);
      } else {
        const n1 = await normOfResidual(p, m, `l${l}.attnNorm`, x, true);
        attnIn = n1.x as AShare;
        context = await attentionContext(p, m, l, n1.y, cache, pos0);
      }
      return mlpBlock(p, m, l, await linearInto(p, m, `l${l}.o`, context, attnIn, sumForm(c, true)), last);
    }
    const x0 = resolve(x);
    const a = await linearInto(p, m, `l${l}.o`, await attentionContext(p, m, l, x0, cache, pos0, x.qkv), x0, sumForm(c, true));
    const n1 = await normOfResidualInto(p, m, `l${l}.attnNorm`, a, false, mlpIn(c, l), true);
    const h = n1.y as AShare;
    const f = await mlpHidden(p, m, l, n1.out);
    const sum = await linearInto(p, m, f.down, f.h, h, sumForm(c, true));
    if (last || !normFeedsQkv(c)) return { base: (await normOfResidual(p, m, `l${l}.mlpNorm`, sum, false)).y, product: null };
    const out = await normOfResidualInto(p, m, `l${l}.mlpNorm`, sum, false, `l${l + 1}.qkv`, true);
    return { base: out.y as AShare, product: null, qkv: out.out };
  });
}

/** A pre-norm layer's MLP on the attention's residual sum a: norm, MLP, and the down projection into the next sum. */
async function mlpBlock(p: Party, m: SecureModel, l: number, a: Residual, last: boolean): Promise<Residual> {
  const c = m.config;
  const n2 = await normOfResidualInto(p, m, `l${l}.mlpNorm`, a, true, mlpIn(c, l), false);
  const f = await mlpHidden(p, m, l, n2.out);
  // The last layer's sum goes to the final norm as its term (head.ts) where RMSNorm takes it.
  return linearInto(p, m, f.down, f.h, n2.x as AShare, sumForm(c, !last || normTakesSum(c)));
}

/** A resolved residual's value (blocks leave a product only where a norm takes it next). */
function resolve(r: Residual): AShare {
  if (r.product || r.sum) throw new Error('secure pass: a residual sum was left untruncated where no norm takes it');
  return r.base;
}

/**
 * Hidden states [T, hidden] for T new tokens at positions pos0 .. pos0+T-1 (appending to `cache` if given), as
 * the final norm takes them: pre-norm RMSNorm models leave the last layer's sum as its term (nn NormInput; the
 * head truncates only the rows it scores, with their squares), others resolved.
 */
export async function secureHiddenInput(p: Party, m: SecureModel, oneHot: AShare, pos0: number, cache: KvCache | null): Promise<NormInput> {
  m.weights.beginPass();
  let x: Residual = await embed(p, m, oneHot, pos0);
  const L = m.config.numLayers;
  for (let l = 0; l < L; l++) x = await block(p, m, l, x, l === L - 1, cache, pos0);
  if (cache) cache.length = pos0 + oneHot.shape[0];
  return x.sum ?? resolve(x);
}

/** secureHiddenInput resolved (a sum's term truncated: 2 rounds, as the last layer's product took before). */
export async function secureHidden(p: Party, m: SecureModel, oneHot: AShare, pos0: number, cache: KvCache | null): Promise<AShare> {
  return resolvedInput(p, await secureHiddenInput(p, m, oneHot, pos0, cache));
}

/** A NormInput's value: as it is, or its sum's term truncated (the term released). */
export async function resolvedInput(p: Party, h: NormInput): Promise<AShare> {
  if (!('term' in h)) return h;
  const x = await truncateProduct(p, h.term, h.shape, sumShift(h, p.fracBits));
  p.drop(h.term);
  return x;
}

/** Rows [start, start + count) of a NormInput of shape [rows, cols] (a sum's term: those rows of each party's term). */
export function inputRows(p: Party, h: NormInput, start: number, count: number): NormInput {
  if (!('term' in h)) return rows(p, h, start, count);
  const cols = h.shape[1];
  return { term: p.backend.slice(h.term, start * cols, count * cols), shape: [count, cols], fracBits: h.fracBits };
}
