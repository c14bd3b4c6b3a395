/**
 * Model owner side: turns a loaded model into the named fixed-point tensors the secure pass uses, and splits
 * each into the three parties' PRG-compressed bundles. Plaintext-equivalent rewrites happen here, once:
 * q, k, v are fused into one [hidden, (H + 2 KV) D] matrix (one matmul and one truncation instead of three),
 * and the attention scale 1/sqrt(D) is folded into the q columns (no truncation for the scaling at run time).
 * A pre-norm model's layer norms are folded into the matmuls they feed (norm-folding.ts): W' = diag(gamma) W and
 * b' = b + beta W replace W and b, and the norm's scale and bias are not shared.
 */
import { encodeFixed } from '@puma/ring';
import { splitInput, type ShareBundle } from '@puma/protocol';
import type { FloatArray, Linear, Model, ModelConfig, Norm, Tensor } from '../types.ts';
import { foldsNormAffine } from './norm-folding.ts';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float64Array;
}

/**
 * A secure-pass tensor before its values exist: `values()` builds them (rewrites applied) on demand. A tensor
 * taken as it is returns the model's own array (float32 or float64: its float64 reading is exact), so no copy
 * is made; fused or scaled ones are built in float64.
 */
export interface TensorSource {
  name: string;
  shape: number[];
  values(): FloatArray;
}

export interface WeightManifest {
  modelId: string;
  config: ModelConfig;
  fracBits: number;
  tensors: Array<{ name: string; shape: number[] }>;
}

export interface PartyWeightBundle {
  manifest: WeightManifest;
  bundles: Record<string, ShareBundle>;
}

/** Horizontal concatenation of [in, out_i] matrices, each column block scaled by its factor. */
function fuseColumns(parts: Array<{ t: Tensor; scale: number }>): Float64Array {
  const rows = parts[0].t.shape[0];
  const widths = parts.map((p) => p.t.shape[1]);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float64Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let o = 0;
    parts.forEach((p, i) => {
      for (let c = 0; c < widths[i]; c++) out[r * total + o + c] = p.t.data[r * widths[i] + c] * p.scale;
      o += widths[i];
    });
  }
  return out;
}

/** Concatenated biases of fused column blocks (a block without a bias contributes zeros). */
function fuseBias(parts: Array<{ l: Linear; scale: number }>): Float64Array {
  const out: number[] = [];
  for (const p of parts) {
    const width = p.l.weight.shape[1];
    for (let c = 0; c < width; c++) out.push((p.l.bias ? p.l.bias.data[c] : 0) * p.scale);
  }
  return Float64Array.from(out);
}

/**
 * diag(gamma) W for W [n, out] (row i scaled by gamma_i), row by row; into W itself when `inPlace` (W is a fresh
 * array of this file's own, not the model's): a fresh buffer costs page faults that the owner's split notices.
 */
function scaleRows(w: FloatArray, gamma: FloatArray, out: number, inPlace: boolean): Float64Array {
  const r = inPlace && w instanceof Float64Array ? w : new Float64Array(w.length);
  for (let i = 0; i < gamma.length; i++) {
    const g = gamma[i];
    for (let j = i * out; j < (i + 1) * out; j++) r[j] = w[j] * g;
  }
  return r;
}

/** b + beta W for W [n, out] (b absent: zeros). */
function biasPlusBetaW(w: FloatArray, beta: FloatArray, out: number, b: FloatArray | undefined): Float64Array {
  const r = b ? Float64Array.from(b) : new Float64Array(out);
  for (let i = 0; i < beta.length; i++) {
    const bi = beta[i];
    if (bi !== 0) for (let j = 0; j < out; j++) r[j] += bi * w[i * out + j];
  }
  return r;
}

/**
 * The named tensors of the secure pass (see secure/forward.ts for how each is used), each built only when its
 * values() is called: a streamed sharing holds one tensor's rewritten copy at a time, not the model's.
 */
export function secureTensorSources(model: Model): TensorSource[] {
  const { config: c, weights: w } = model;
  const out: TensorSource[] = [];
  const put = (name: string, shape: readonly number[], values: () => FloatArray) => out.push({ name, shape: [...shape], values });
  const putTensor = (name: string, t: Tensor) => put(name, t.shape, () => t.data);
  const putNorm = (name: string, n: Norm) => {
    putTensor(`${name}.scale`, n.scale);
    if (n.bias) putTensor(`${name}.bias`, n.bias);
  };
  /**
   * Linear `name` [n, width] (weight and optional bias as the pass uses them, after other rewrites), fed by norm
   * `normName`: with that norm's gamma and beta folded in where foldsNormAffine, else with the norm put as it is.
   */
  const putFed = (normName: string, n: Norm, name: string, shape: readonly [number, number], weight: () => FloatArray, bias: (() => FloatArray) | undefined, freshWeight: boolean) => {
    if (!foldsNormAffine(c, normName)) {
      putNorm(normName, n);
      put(`${name}.w`, shape, weight);
      if (bias) put(`${name}.b`, [shape[1]], bias);
      return;
    }
    const width = shape[1];
    const beta = n.bias;
    const foldedBias = (w: FloatArray) => (beta ? biasPlusBetaW(w, beta.data, width, bias?.()) : bias!());
    // b' needs the unscaled W: the weight's values() computes it from the W it builds (the stream asks for
    // name.w, then name.b) and keeps it for the bias, so W is built once; a bias asked for alone builds W itself.
    let keptBias: FloatArray | undefined;
    put(`${name}.w`, shape, () => {
      const w = weight();
      if (beta || bias) keptBias = foldedBias(w);
      return scaleRows(w, n.scale.data, width, freshWeight);
    });
    if (beta || bias) {
      put(`${name}.b`, [width], () => {
        const b = keptBias ?? foldedBias(weight());
        keptBias = undefined;
        return b;
      });
    }
  };
  const putLinear = (name: string, l: Linear) => {
    putTensor(`${name}.w`, l.weight);
    if (l.bias) putTensor(`${name}.b`, l.bias);
  };
  const fedLinear = (normName: string, n: Norm, name: string, l: Linear) => {
    const b = l.bias;
    putFed(normName, n, name, [l.weight.shape[0], l.weight.shape[1]], () => l.weight.data, b && (() => b.data), false);
  };
  putTensor('emb.token', w.embeddings.token);
  if (w.embeddings.position) putTensor('emb.position', w.embeddings.position);
  if (w.embeddings.tokenType) putTensor('emb.tokenType', w.embeddings.tokenType);
  if (w.embeddings.norm) putNorm('emb.norm', w.embeddings.norm);
  const qScale = 1 / Math.sqrt(c.headDim);
  w.layers.forEach((L, i) => {
    const qkv = [{ l: L.attn.q, scale: qScale }, { l: L.attn.k, scale: 1 }, { l: L.attn.v, scale: 1 }];
    const width = qkv.reduce((s, p) => s + p.l.weight.shape[1], 0);
    const qkvBias = qkv.some((p) => p.l.bias) ? () => fuseBias(qkv) : undefined;
    putFed(`l${i}.attnNorm`, L.attnNorm, `l${i}.qkv`, [c.hiddenSize, width], () => fuseColumns(qkv.map((p) => ({ t: p.l.weight, scale: p.scale }))), qkvBias, true);
    putLinear(`l${i}.o`, L.attn.o);
    if (L.mlp.kind === 'dense') {
      fedLinear(`l${i}.mlpNorm`, L.mlpNorm, `l${i}.up`, L.mlp.up);
      putLinear(`l${i}.down`, L.mlp.down);
    } else {
      const { w1, w3 } = L.mlp;
      putFed(`l${i}.mlpNorm`, L.mlpNorm, `l${i}.w13`, [c.hiddenSize, 2 * c.intermediateSize], () => fuseColumns([{ t: w1.weight, scale: 1 }, { t: w3.weight, scale: 1 }]), undefined, true);
      putLinear(`l${i}.w2`, L.mlp.w2);
    }
  });
  if (w.finalNorm) putNorm('final', w.finalNorm);
  const h = w.head;
  if (h.kind === 'lm') {
    // A tied head is emb.token transposed: the secure pass reads it from there (linear-weight.ts).
    if (!h.tied) putTensor('head.w', h.weight);
    if (h.bias) putTensor('head.b', h.bias);
  } else if (h.kind === 'classifier') {
    putLinear('pooler', h.pooler);
    putLinear('cls', h.classifier);
  } else {
    throw new Error(`secure inference supports LM and classifier heads, not '${h.kind}'`);
  }
  return out;
}

/** Every secure-pass tensor with its values (the whole model in float64 at once; see secureTensorSources). */
export function secureTensors(model: Model): NamedTensor[] {
  return secureTensorSources(model).map((t) => {
    const v = t.values();
    return { name: t.name, shape: t.shape, data: v instanceof Float64Array ? v : new Float64Array(v) };
  });
}

/** Splits every tensor into the three parties' bundles (fresh seeds from crypto.getRandomValues). */
export function shareWeights(model: Model, modelId: string, fracBits: number): [PartyWeightBundle, PartyWeightBundle, PartyWeightBundle] {
  const tensors = secureTensors(model);
  const manifest: WeightManifest = { modelId, config: model.config, fracBits, tensors: tensors.map((t) => ({ name: t.name, shape: t.shape })) };
  const parties: [PartyWeightBundle, PartyWeightBundle, PartyWeightBundle] = [0, 1, 2].map(() => ({ manifest, bundles: {} })) as never;
  for (const t of tensors) {
    const split = splitInput(encodeFixed(t.data, fracBits, t.name));
    split.forEach((b, i) => (parties[i].bundles[t.name] = b));
  }
  return parties;
}
