/**
 * Scaled dot-product attention with grouped-query heads and an optional causal structure, float64.
 * Steps per head, as the secure version performs them: scores = q K^T / sqrt(headDim); softmax over the keys a
 * query may see (the causal mask is structure: masked keys are never scored, no -inf constants); out = P V.
 */
import { softmaxInPlace } from './softmax.ts';

export interface AttentionDims {
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly causal: boolean;
}

/**
 * q [tq, numHeads*headDim] holds queries at absolute positions qStart .. qStart+tq-1; k and v
 * [tk, numKvHeads*headDim] hold keys/values at positions 0 .. tk-1 (a KV cache, or the same sequence).
 * Query head h reads kv head floor(h / (numHeads / numKvHeads)). A causal query at position p sees keys 0..p.
 * Returns [tq, numHeads*headDim]. onScores sees each query row's scaled scores before softmax (a probe).
 */
export function attention(
  q: Float64Array, k: Float64Array, v: Float64Array, tq: number, tk: number, qStart: number, dims: AttentionDims,
  onScores?: (row: Float64Array, len: number) => void,
): Float64Array {
  const { numHeads, numKvHeads, headDim, causal } = dims;
  const qWidth = numHeads * headDim;
  const kvWidth = numKvHeads * headDim;
  if (numHeads % numKvHeads !== 0) throw new Error(`attention: ${numHeads} heads is not a multiple of ${numKvHeads} kv heads`);
  if (q.length !== tq * qWidth) throw new Error(`attention: q has ${q.length} elements, expected ${tq}x${qWidth}`);
  if (k.length < tk * kvWidth || v.length < tk * kvWidth) throw new Error(`attention: k/v hold fewer than ${tk} rows of ${kvWidth}`);
  if (causal && qStart + tq > tk) throw new Error(`attention: causal queries up to position ${qStart + tq - 1} need ${qStart + tq} keys, got ${tk}`);
  const group = numHeads / numKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float64Array(tq * qWidth);
  const scores = new Float64Array(tk);
  for (let h = 0; h < numHeads; h++) {
    const kvOff = Math.floor(h / group) * headDim;
    const qOff = h * headDim;
    for (let i = 0; i < tq; i++) {
      const visible = causal ? qStart + i + 1 : tk;
      const qo = i * qWidth + qOff;
      for (let j = 0; j < visible; j++) {
        const ko = j * kvWidth + kvOff;
        let s = 0;
        for (let e = 0; e < headDim; e++) s += q[qo + e] * k[ko + e];
        scores[j] = s * scale;
      }
      onScores?.(scores, visible);
      softmaxInPlace(scores, 0, visible);
      const oo = i * qWidth + qOff;
      for (let j = 0; j < visible; j++) {
        const p = scores[j];
        const vo = j * kvWidth + kvOff;
        for (let e = 0; e < headDim; e++) out[oo + e] += p * v[vo + e];
      }
    }
  }
  return out;
}
