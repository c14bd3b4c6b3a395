/** Row-wise normalizations over the last axis, float64; each returns a new array. */
import type { FloatArray, Norm } from './types.ts';

/** (x - mean) / sqrt(var + eps) * scale + bias per row, with the biased variance (as PyTorch). */
export function layerNorm(x: FloatArray, rows: number, norm: Norm): Float64Array {
  const d = norm.scale.data.length;
  if (x.length !== rows * d) throw new Error(`layerNorm: input has ${x.length} elements, expected ${rows}x${d}`);
  const g = norm.scale.data;
  const b = norm.bias?.data;
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[o + j];
    mean /= d;
    let variance = 0;
    for (let j = 0; j < d; j++) {
      const c = x[o + j] - mean;
      variance += c * c;
    }
    variance /= d;
    const inv = 1 / Math.sqrt(variance + norm.eps);
    for (let j = 0; j < d; j++) out[o + j] = (x[o + j] - mean) * inv * g[j] + (b ? b[j] : 0);
  }
  return out;
}

/** x / sqrt(mean(x^2) + eps) * scale per row (llama2.c rmsnorm). */
export function rmsNorm(x: FloatArray, rows: number, norm: Norm): Float64Array {
  const d = norm.scale.data.length;
  if (x.length !== rows * d) throw new Error(`rmsNorm: input has ${x.length} elements, expected ${rows}x${d}`);
  const g = norm.scale.data;
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[o + j] * x[o + j];
    const inv = 1 / Math.sqrt(ss / d + norm.eps);
    for (let j = 0; j < d; j++) out[o + j] = x[o + j] * inv * g[j];
  }
  return out;
}

export function applyNorm(x: FloatArray, rows: number, norm: Norm): Float64Array {
  return norm.kind === 'layernorm' ? layerNorm(x, rows, norm) : rmsNorm(x, rows, norm);
}
