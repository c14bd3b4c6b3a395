/**
 * The architecture-generic plaintext forward pass up to the final hidden states, float64, one small function
 * per step so the secure version can mirror it op by op:
 *   embed -> for each layer: transformerLayer (norm placement per config) -> final norm.
 * GPT-2, BERT and LLaMA differ only through ModelConfig and the weights' kinds (norm, MLP, positions).
 */
import { activate, silu } from './activations.ts';
import { attention } from './attention.ts';
import { add, linear, mul } from './matmul.ts';
import { applyNorm } from './norms.ts';
import { applyRope } from './rope.ts';
import type { AttentionWeights, FloatArray, LayerWeights, Model, ModelConfig, MlpWeights, Norm } from './types.ts';

/**
 * Sees the inputs of the steps whose secure versions have a bounded domain (domain-check.ts): `site` names the
 * step ("layer 3 MLP activation"). Observing only: a probe never changes the pass.
 */
export interface ForwardProbe {
  /** Inputs of an elementwise nonlinearity (GeLU, SiLU, tanh). */
  activation(site: string, x: FloatArray): void;
  /** One query row's scaled scores over the keys it sees, before softmax. */
  scores(site: string, row: Float64Array, len: number): void;
  /** A layer's attention values V (the rows softmax weighs). */
  values(site: string, v: FloatArray): void;
  /** A RoPE layer's queries and keys after the rotation. */
  rotated(site: string, x: FloatArray): void;
  /** A norm's input rows. */
  norm(site: string, x: FloatArray, rows: number, norm: Norm): void;
}

function normAt(x: Float64Array, rows: number, norm: Norm, site: string, probe?: ForwardProbe): Float64Array {
  probe?.norm(site, x, rows, norm);
  return applyNorm(x, rows, norm);
}

/** Keys and values of one layer for positions 0 .. capacity-1, rows of numKvHeads*headDim. */
export interface LayerCache {
  readonly k: Float64Array;
  readonly v: Float64Array;
}

export function createCache(config: ModelConfig, capacity: number): LayerCache[] {
  const width = config.numKvHeads * config.headDim;
  return Array.from({ length: config.numLayers }, () => ({ k: new Float64Array(capacity * width), v: new Float64Array(capacity * width) }));
}

/**
 * [T, hidden] = token rows (+ position rows startPos.. for learned positions) (+ token-type rows), then the
 * embedding norm if the model has one (BERT).
 */
export function embed(model: Model, ids: readonly number[], startPos = 0, typeIds?: readonly number[], probe?: ForwardProbe): Float64Array {
  const { config: c, weights: w } = model;
  const d = c.hiddenSize;
  const T = ids.length;
  if (startPos + T > c.maxPositions) {
    throw new Error(`sequence of ${startPos + T} tokens exceeds the model's ${c.maxPositions} positions`);
  }
  if (typeIds && typeIds.length !== T) throw new Error(`${typeIds.length} token-type ids for ${T} tokens`);
  const x = new Float64Array(T * d);
  const tok = w.embeddings.token.data;
  for (let t = 0; t < T; t++) {
    const id = ids[t];
    if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new Error(`token id ${id} at index ${t} is outside the vocabulary [0, ${c.vocabSize})`);
    for (let j = 0; j < d; j++) x[t * d + j] = tok[id * d + j];
  }
  const pos = w.embeddings.position?.data;
  if (pos) {
    for (let t = 0; t < T; t++) {
      const p = startPos + t;
      for (let j = 0; j < d; j++) x[t * d + j] += pos[p * d + j];
    }
  }
  const types = w.embeddings.tokenType?.data;
  if (types) {
    for (let t = 0; t < T; t++) {
      const ty = typeIds ? typeIds[t] : 0;
      if (!Number.isInteger(ty) || ty < 0 || ty >= c.typeVocabSize) throw new Error(`token-type id ${ty} at index ${t} is outside [0, ${c.typeVocabSize})`);
      for (let j = 0; j < d; j++) x[t * d + j] += types[ty * d + j];
    }
  }
  return w.embeddings.norm ? normAt(x, T, w.embeddings.norm, 'embedding norm', probe) : x;
}

/**
 * Multi-head self-attention of the rows h [T, hidden] at positions startPos..startPos+T-1, output projection
 * included. With a cache, this step's keys/values are written at their positions and the queries attend to
 * every cached position before them; without one, to the T rows themselves (startPos must then be 0).
 */
export function selfAttention(h: Float64Array, rows: number, attn: AttentionWeights, config: ModelConfig, startPos: number, cache?: LayerCache, probe?: LayerProbe): Float64Array {
  const q = linear(h, rows, attn.q);
  const k = linear(h, rows, attn.k);
  const v = linear(h, rows, attn.v);
  probe?.probe.values(`${probe.site} attention`, v);
  if (config.positions === 'rope') {
    applyRope(q, rows, config.numHeads, config.headDim, startPos, config.ropeTheta, config.ropeScaling);
    applyRope(k, rows, config.numKvHeads, config.headDim, startPos, config.ropeTheta, config.ropeScaling);
    probe?.probe.rotated(`${probe.site} attention`, q);
    probe?.probe.rotated(`${probe.site} attention`, k);
  }
  const dims = { numHeads: config.numHeads, numKvHeads: config.numKvHeads, headDim: config.headDim, causal: config.causal };
  let a: Float64Array;
  if (cache) {
    const width = config.numKvHeads * config.headDim;
    if ((startPos + rows) * width > cache.k.length) throw new Error(`KV cache holds ${cache.k.length / width} positions, need ${startPos + rows}`);
    cache.k.set(k, startPos * width);
    cache.v.set(v, startPos * width);
    a = attention(q, cache.k, cache.v, rows, startPos + rows, startPos, dims, probe && ((row, len) => probe.probe.scores(`${probe.site} attention`, row, len)));
  } else {
    if (startPos !== 0) throw new Error('selfAttention without a cache must start at position 0');
    a = attention(q, k, v, rows, rows, 0, dims, probe && ((row, len) => probe.probe.scores(`${probe.site} attention`, row, len)));
  }
  return linear(a, rows, attn.o);
}

/** A probe and the layer it is looking at ("layer 3"). */
export interface LayerProbe {
  probe: ForwardProbe;
  site: string;
}

function activationInput(pre: Float64Array, probe?: LayerProbe): Float64Array {
  probe?.probe.activation(`${probe.site} MLP activation`, pre);
  return pre;
}

/** dense: down(act(up(x))); swiglu: w2(silu(w1 x) * (w3 x)). */
export function mlp(x: Float64Array, rows: number, weights: MlpWeights, config: ModelConfig, probe?: LayerProbe): Float64Array {
  if (weights.kind === 'dense') return linear(activate(activationInput(linear(x, rows, weights.up), probe), config.activation), rows, weights.down);
  return linear(mul(silu(activationInput(linear(x, rows, weights.w1), probe)), linear(x, rows, weights.w3)), rows, weights.w2);
}

export function transformerLayer(x: Float64Array, rows: number, layer: LayerWeights, config: ModelConfig, startPos: number, cache?: LayerCache, probe?: LayerProbe): Float64Array {
  const norm = (v: Float64Array, w: Norm, which: string): Float64Array => normAt(v, rows, w, `${probe?.site} ${which} norm`, probe?.probe);
  if (config.normPlacement === 'pre') {
    const h = add(x, selfAttention(norm(x, layer.attnNorm, 'attention'), rows, layer.attn, config, startPos, cache, probe));
    return add(h, mlp(norm(h, layer.mlpNorm, 'MLP'), rows, layer.mlp, config, probe));
  }
  const h = norm(add(x, selfAttention(x, rows, layer.attn, config, startPos, cache, probe)), layer.attnNorm, 'attention');
  return norm(add(h, mlp(h, rows, layer.mlp, config, probe)), layer.mlpNorm, 'MLP');
}

export interface ForwardOptions {
  /** Absolute position of the first id (continuing a cached sequence). */
  readonly startPos?: number;
  /** One LayerCache per layer (see createCache); required for startPos > 0. */
  readonly cache?: readonly LayerCache[];
  readonly typeIds?: readonly number[];
  /** Sees the bounded-domain steps' inputs (domain-check.ts). */
  readonly probe?: ForwardProbe;
}

/** Final hidden states [T, hidden] (after the final norm, when the model has one). */
export function forwardHidden(model: Model, ids: readonly number[], options: ForwardOptions = {}): Float64Array {
  const { config, weights } = model;
  const startPos = options.startPos ?? 0;
  if (ids.length === 0) throw new Error('forward needs at least one token');
  if (options.cache && options.cache.length !== config.numLayers) throw new Error(`cache has ${options.cache.length} layers, model ${config.numLayers}`);
  const probe = options.probe;
  let x = embed(model, ids, startPos, options.typeIds, probe);
  weights.layers.forEach((layer, i) => {
    x = transformerLayer(x, ids.length, layer, config, startPos, options.cache?.[i], probe && { probe, site: `layer ${i}` });
  });
  return weights.finalNorm ? normAt(x, ids.length, weights.finalNorm, 'final norm', probe) : x;
}
