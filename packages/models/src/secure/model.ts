/**
 * What every part of the secure pass (forward.ts) shares: the model bound to a party (weights streamed, nothing
 * read before use), its small tensors, linear layers, and the residual stream's forms between sublayers (resolved,
 * or the whole sum as each party's term: Residual).
 */
import { add, addToTerm, mulPublicInt, reshape, sliceFlat, tileLeading, type AShare, type OutputTerm, type Party } from '@puma/protocol';
import { layerNormOfResidualMaxWidth, resolvedNormInput, type NormInput, type SumTerm } from '@puma/nn';
import { checkNormWindows } from '../norm-windows.ts';
import { foldsNormAffine } from './norm-folding.ts';
import type { ModelConfig } from '../types.ts';
import { linearMatmul, linearMatmulTerm } from './linear-weight.ts';
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
  const { norm, hiddenSize } = manifest.config;
  if (norm === 'layernorm' && hiddenSize > layerNormOfResidualMaxWidth(p.fracBits)) {
    throw new Error(`a LayerNorm model ${hiddenSize} wide is not supported at ${p.fracBits} fraction bits: its norms take rows of at most ${layerNormOfResidualMaxWidth(p.fracBits)} columns`);
  }
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
export async function addBias(p: Party, m: SecureModel, name: string, y: AShare): Promise<AShare> {
  if (!m.weights.has(`${name}.b`)) return y;
  return withWeight(m, `${name}.b`, (b) => add(p, y, reshape(tileLeading(p, b, y.shape[0]), y.shape)));
}

export async function linear(p: Party, m: SecureModel, name: string, x: AShare): Promise<AShare> {
  return addBias(p, m, name, await linearMatmul(p, m.weights, name, x));
}

/** t plus the bias of `name`, if the model has one (its component 0 at t's fraction bits: protocol addToTerm); t's buffer is released. */
export async function addBiasToTerm(p: Party, m: SecureModel, name: string, t: OutputTerm): Promise<OutputTerm> {
  if (!m.weights.has(`${name}.b`)) return t;
  const biased = await withWeight(m, `${name}.b`, (b) => addToTerm(p, t, reshape(tileLeading(p, b, t.shape[0]), t.shape)));
  p.drop(t.z);
  return biased;
}

/** The residual stream between sublayers. */
export interface Residual {
  /**
   * Its value: resolved, or the whole sum as this party's masked term (at 2f: the residual's term or its
   * replicated value times 2^f, plus the product's term; attendInto's at f plus its reciprocal's bits:
   * SumTerm.fracBits), which the next norm truncates, starting from its rows' squares (nn NormInput; a LayerNorm
   * centres it first and leaves it as it is, so pre-norm LayerNorm models carry the stream as a term, never
   * truncated: nn layernorm-residual.ts).
   */
  x: NormInput;
  /** The next layer's qkv projection of x, where the norm that made x fed it (post-norm models). */
  qkv?: AShare;
}

/** LayerNorm models and pre-norm RMSNorm models hand sublayer outputs to the next norm as the sum's term (Residual.x). */
export function normTakesSum(c: ModelConfig): boolean {
  return c.norm === 'layernorm' || (c.norm === 'rmsnorm' && c.normPlacement === 'pre');
}

/**
 * residual + linear(x): 'resolved', or 'sum', the whole sum as each party's term (the next norm truncates it
 * with its rows' squares: no round here). A residual given as a term is consumed (its buffer joins the sum); a
 * resolved one joins as its component 0 times 2^f (summed over the parties, the value). 'resolved' from a term
 * truncates the whole sum once (2 rounds, as the matmul's own truncation).
 */
export async function linearInto(p: Party, m: SecureModel, name: string, x: AShare, residual: NormInput, into: 'resolved' | 'sum'): Promise<Residual> {
  const isTerm = 'term' in residual;
  if (into === 'resolved' && !isTerm) return { x: add(p, residual, await linear(p, m, name, x)) };
  const product = await linearMatmulTerm(p, m.weights, name, x);
  let t: OutputTerm;
  if (isTerm) {
    if (residual.fracBits !== product.fracBits || residual.shape.length !== product.shape.length || residual.shape.some((v, i) => v !== product.shape[i])) {
      throw new Error(`secure pass: ${name}'s product [${product.shape.join(', ')}] at ${product.fracBits} fraction bits cannot join a residual's term [${residual.shape.join(', ')}] at ${residual.fracBits}`);
    }
    t = { ...product, z: p.backend.add(product.z, residual.term) };
    p.drop(residual.term);
  } else {
    t = addToTerm(p, product, residual);
  }
  p.drop(product.z);
  t = await addBiasToTerm(p, m, name, t);
  const sum: SumTerm = { term: t.z, shape: t.shape, fracBits: t.fracBits };
  if (into === 'sum') return { x: sum };
  return { x: await resolvedInput(p, sum) };
}

/** The sublayer output's form for the next norm (linearInto), `next` whether a norm takes it (not the last layer's). */
export function sumForm(c: ModelConfig, next: boolean): 'resolved' | 'sum' {
  return next && normTakesSum(c) ? 'sum' : 'resolved';
}

/** Rows [start, start + count) of a [rows, cols] share (public indices: local). */
export function rows(p: Party, x: AShare, start: number, count: number): AShare {
  const cols = x.shape[1];
  return sliceFlat(p, x, start * cols, [count, cols]);
}

/** A NormInput's value: as it is, or its sum's term truncated (the term released). */
export async function resolvedInput(p: Party, h: NormInput): Promise<AShare> {
  if (!('term' in h)) return h;
  const x = await resolvedNormInput(p, h);
  p.drop(h.term);
  return x;
}

/** Rows [start, start + count) of a NormInput of shape [rows, cols] (a sum's term: those rows of each party's term). */
export function inputRows(p: Party, h: NormInput, start: number, count: number): NormInput {
  if (!('term' in h)) return rows(p, h, start, count);
  const cols = h.shape[1];
  return { term: p.backend.slice(h.term, start * cols, count * cols), shape: [count, cols], fracBits: h.fracBits };
}
