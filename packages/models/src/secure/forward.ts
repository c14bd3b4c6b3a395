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
 */
import { encodeFixed } from '@puma/ring';
import {
  add, concatFlat, concatLast, matmul, matmulRaw, mulPublicRawVec, reshape, sliceFlat, sliceLast,
  tileLeading, transpose, truncate, type AShare, type Party,
} from '@puma/protocol';
import { gelu, geluTanh, layerNorm, rmsNorm, softmaxLastOfProduct, swiglu, tanh } from '@puma/nn';
import { ropeFrequencies } from '../rope.ts';
import type { ModelConfig } from '../types.ts';
import { streamedMatmul, streamedMatmulRaw } from './streamed-matmul.ts';
import { asWeightSource, type SecureWeights } from './weight-source.ts';
import { WeightStream } from './weight-stream.ts';

export interface SecureModel {
  config: ModelConfig;
  weights: WeightStream;
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
  return { config: manifest.config, weights: new WeightStream(p, source, o.blockWords) };
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
async function withWeight<T>(m: SecureModel, name: string, f: (w: AShare) => Promise<T> | T): Promise<T> {
  const w = await m.weights.whole(name);
  try {
    return await f(w);
  } finally {
    m.weights.close(w);
  }
}

async function linear(p: Party, m: SecureModel, name: string, x: AShare): Promise<AShare> {
  const y = await streamedMatmul(p, m.weights, `${name}.w`, x);
  if (!m.weights.has(`${name}.b`)) return y;
  return withWeight(m, `${name}.b`, (b) => add(p, y, reshape(tileLeading(p, b, y.shape[0]), y.shape)));
}

async function norm(p: Party, m: SecureModel, name: string, x: AShare): Promise<AShare> {
  const c = m.config;
  return withWeight(m, `${name}.scale`, (scale) => {
    if (c.norm === 'rmsnorm') return rmsNorm(p, x, scale, c.normEps);
    return withWeight(m, `${name}.bias`, (bias) => layerNorm(p, x, scale, bias, c.normEps));
  });
}

/** Rows [start, start + count) of a [rows, cols] share (public indices: local). */
function rows(p: Party, x: AShare, start: number, count: number): AShare {
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

async function embed(p: Party, m: SecureModel, oneHot: AShare, pos0: number): Promise<AShare> {
  const c = m.config;
  const T = oneHot.shape[0];
  let x = await p.profile('embedding', () => streamedMatmulRaw(p, m.weights, 'emb.token', oneHot));
  if (c.positions === 'learned') {
    if (pos0 + T > c.maxPositions) throw new Error(`sequence of ${pos0 + T} positions exceeds the model's ${c.maxPositions}`);
    x = await addWeightRows(p, m, 'emb.position', x, pos0, T);
  }
  if (m.weights.has('emb.tokenType')) x = await addWeightRows(p, m, 'emb.tokenType', x, 0, 1);
  if (m.weights.has('emb.norm.scale')) x = await p.profile('norm', () => norm(p, m, 'emb.norm', x));
  return x;
}

/** Public cos/sin tables for llama2.c's RoPE (adjacent pairs within each head), positions pos0 .. pos0+T-1. */
function ropeTables(c: ModelConfig, heads: number, pos0: number, T: number, fracBits: number): { cos: BigUint64Array; sin: BigUint64Array } {
  const width = heads * c.headDim;
  const cos = new Float64Array(T * width);
  const sin = new Float64Array(T * width);
  const f = ropeFrequencies(c.headDim, c.ropeTheta, c.ropeScaling, pos0 + T);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < width; j++) {
      const angle = (pos0 + t) * f.inverse[(j % c.headDim) >> 1];
      cos[t * width + j] = Math.cos(angle) * f.attentionFactor;
      sin[t * width + j] = (j % 2 === 0 ? -1 : 1) * Math.sin(angle) * f.attentionFactor;
    }
  }
  return { cos: encodeFixed(cos, fracBits), sin: encodeFixed(sin, fracBits) };
}

/** Swaps the elements of each adjacent pair along the last axis (local). */
function swapPairs(p: Party, x: AShare): AShare {
  const pairs = reshape(x, [x.s0.length / 2, 2]);
  return reshape(concatLast(p, sliceLast(p, pairs, 1, 1), sliceLast(p, pairs, 0, 1)), x.shape);
}

/** RoPE on q and k together: x cos + swap(x) sin with public tables, one truncation for both. */
async function rope(p: Party, c: ModelConfig, q: AShare, k: AShare, pos0: number): Promise<[AShare, AShare]> {
  const T = q.shape[0];
  const tq = ropeTables(c, c.numHeads, pos0, T, p.fracBits);
  const tk = ropeTables(c, c.numKvHeads, pos0, T, p.fracBits);
  const rot = (x: AShare, t: { cos: BigUint64Array; sin: BigUint64Array }) => add(p, mulPublicRawVec(p, x, t.cos), mulPublicRawVec(p, swapPairs(p, x), t.sin));
  const both = await truncate(p, concatFlat(p, [rot(q, tq), rot(k, tk)]));
  return [sliceFlat(p, both, 0, q.shape), sliceFlat(p, both, q.s0.length, k.shape)];
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

async function attention(p: Party, m: SecureModel, l: number, x: AShare, cache: KvCache | null, pos0: number): Promise<AShare> {
  const c = m.config;
  const T = x.shape[0];
  const D = c.headDim;
  const H = c.numHeads;
  const KV = c.numKvHeads;
  const qkv = await linear(p, m, `l${l}.qkv`, x);
  let q = sliceLast(p, qkv, 0, H * D);
  let k = sliceLast(p, qkv, H * D, KV * D);
  const v = sliceLast(p, qkv, (H + KV) * D, KV * D);
  if (c.positions === 'rope') [q, k] = await rope(p, c, q, k, pos0);
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
  // comparisons, which read the product directly, so the truncation is off the critical path (nn softmax.ts).
  const scores = await matmulRaw(p, splitHeads(p, q, H, D), kh, { transB: true });
  // nn's default max groups (32: one level of all-pairs narrow comparisons for up to 32 keys).
  const probs = await p.profile('softmax', () => softmaxLastOfProduct(p, scores, c.causal ? { causal: { queryOffset: pos0 } } : {}));
  const ctx = await matmul(p, probs, vh);
  const merged = reshape(transpose(p, ctx, [1, 0, 2]), [T, H * D]);
  return linear(p, m, `l${l}.o`, merged);
}

async function mlp(p: Party, m: SecureModel, l: number, x: AShare): Promise<AShare> {
  const c = m.config;
  if (c.mlp === 'swiglu') {
    const ab = await linear(p, m, `l${l}.w13`, x);
    const a = sliceLast(p, ab, 0, c.intermediateSize);
    const b = sliceLast(p, ab, c.intermediateSize, c.intermediateSize);
    const h = await p.profile('swiglu', () => swiglu(p, a, b));
    return linear(p, m, `l${l}.w2`, h);
  }
  const up = await linear(p, m, `l${l}.up`, x);
  const act = await p.profile('gelu', () => (c.activation === 'gelu_new' ? geluTanh(p, up) : gelu(p, up)));
  return linear(p, m, `l${l}.down`, act);
}

async function block(p: Party, m: SecureModel, l: number, x: AShare, cache: KvCache | null, pos0: number): Promise<AShare> {
  return p.profile(`layer ${l}`, async () => {
    if (m.config.normPlacement === 'pre') {
      const h = add(p, x, await attention(p, m, l, await p.profile('norm', () => norm(p, m, `l${l}.attnNorm`, x)), cache, pos0));
      return add(p, h, await mlp(p, m, l, await p.profile('norm', () => norm(p, m, `l${l}.mlpNorm`, h))));
    }
    // Sublayers run outside the 'norm' spans, so the profile charges the norm only for the norm.
    const a = await attention(p, m, l, x, cache, pos0);
    const h = await p.profile('norm', () => norm(p, m, `l${l}.attnNorm`, add(p, x, a)));
    const f = await mlp(p, m, l, h);
    return p.profile('norm', () => norm(p, m, `l${l}.mlpNorm`, add(p, h, f)));
  });
}

/** Hidden states [T, hidden] for T new tokens at positions pos0 .. pos0+T-1 (appending to `cache` if given). */
export async function secureHidden(p: Party, m: SecureModel, oneHot: AShare, pos0: number, cache: KvCache | null): Promise<AShare> {
  let x = await embed(p, m, oneHot, pos0);
  for (let l = 0; l < m.config.numLayers; l++) x = await block(p, m, l, x, cache, pos0);
  if (cache) cache.length = pos0 + oneHot.shape[0];
  return x;
}

/** Logits [1, vocab] of the last position. */
export async function secureLastLogits(p: Party, m: SecureModel, h: AShare): Promise<AShare> {
  return secureLogitsRows(p, m, rows(p, h, h.shape[0] - 1, 1));
}

/** Logits [T, vocab] of every row of hidden states [T, hidden] (evaluation scores all positions). */
export async function secureLogitsRows(p: Party, m: SecureModel, h: AShare): Promise<AShare> {
  return p.profile('head', async () => {
    const x = m.weights.has('final.scale') ? await p.profile('norm', () => norm(p, m, 'final', h)) : h;
    return linear(p, m, 'head', x);
  });
}

/** BERT sequence classification: classifier(tanh(pooler(h[0]))) -> [1, labels]. */
export async function secureClassifierLogits(p: Party, m: SecureModel, h: AShare): Promise<AShare> {
  return p.profile('head', async () => {
    const pooled = await p.profile('tanh', async () => tanh(p, await linear(p, m, 'pooler', rows(p, h, 0, 1))));
    return linear(p, m, 'cls', pooled);
  });
}
