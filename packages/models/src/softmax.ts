/** Numerically stable softmax and log-softmax (subtract the row max first, as the secure version does). */
import type { FloatArray } from './types.ts';

/** Softmax of x[offset, offset + len) in place. */
export function softmaxInPlace(x: Float64Array, offset = 0, len = x.length - offset): void {
  let max = -Infinity;
  for (let j = 0; j < len; j++) if (x[offset + j] > max) max = x[offset + j];
  let sum = 0;
  for (let j = 0; j < len; j++) {
    const e = Math.exp(x[offset + j] - max);
    x[offset + j] = e;
    sum += e;
  }
  for (let j = 0; j < len; j++) x[offset + j] /= sum;
}

/** log softmax(x)[index] over x[offset, offset + len): the log-likelihood of one class. */
export function logSoftmaxAt(x: FloatArray, index: number, offset = 0, len = x.length - offset): number {
  if (!(index >= 0 && index < len)) throw new Error(`logSoftmaxAt: index ${index} outside [0, ${len})`);
  let max = -Infinity;
  for (let j = 0; j < len; j++) if (x[offset + j] > max) max = x[offset + j];
  let sum = 0;
  for (let j = 0; j < len; j++) sum += Math.exp(x[offset + j] - max);
  return x[offset + index] - max - Math.log(sum);
}

/** Index of the largest element (the first one on ties, as llama2.c's argmax). */
export function argmax(x: FloatArray, offset = 0, len = x.length - offset): number {
  if (len <= 0) throw new Error('argmax of an empty range');
  let best = 0;
  for (let j = 1; j < len; j++) if (x[offset + j] > x[offset + best]) best = j;
  return best;
}
