/** Elementwise activations in float64; each returns a new array. */
import { erfc } from './erf.ts';
import type { Activation, FloatArray } from './types.ts';

const SQRT_HALF = Math.SQRT1_2;
const SQRT_TWO_OVER_PI = Math.sqrt(2 / Math.PI);

/** Exact GeLU x * Phi(x), written with erfc so that large negative x keeps its relative precision. */
export function geluErf(x: FloatArray): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = 0.5 * x[i] * erfc(-x[i] * SQRT_HALF);
  return out;
}

/** GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluTanh(x: FloatArray): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = 0.5 * v * (1 + Math.tanh(SQRT_TWO_OVER_PI * (v + 0.044715 * v * v * v)));
  }
  return out;
}

/** x * sigmoid(x). */
export function silu(x: FloatArray): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] / (1 + Math.exp(-x[i]));
  return out;
}

export function tanh(x: FloatArray): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.tanh(x[i]);
  return out;
}

export function activate(x: FloatArray, act: Activation): Float64Array {
  switch (act) {
    case 'gelu':
      return geluErf(x);
    case 'gelu_new':
      return geluTanh(x);
    case 'silu':
      return silu(x);
  }
}
