/**
 * Hugging Face LLaMA checkpoints order the rows of q_proj and k_proj for rotate_half RoPE, which pairs
 * dimension i of a head with i + D/2; llama2.c (and this project's forward passes) pair 2i with 2i + 1.
 * Meta's conversion script permutes each head's rows so that HF row j*D/2 + i holds interleaved row 2i + j
 * (i < D/2, j in {0, 1}). Undoing that at load time leaves both forward passes unchanged; doing it lets a
 * writer produce HF-layout files. Biases (Qwen2) are permuted like the rows they belong to.
 */
import { formatShape } from './tensor.ts';
import type { Tensor } from './types.ts';

function permuteHeadRows(t: Tensor, heads: number, headDim: number, name: string, toHf: boolean): Tensor {
  if (t.shape.length < 1 || t.shape[0] !== heads * headDim || headDim % 2 !== 0) {
    throw new Error(`${name}: shape ${formatShape(t.shape)} does not have ${heads} heads x ${headDim} rows (even head size) to reorder for RoPE`);
  }
  const rowLen = t.data.length / t.shape[0];
  const half = headDim / 2;
  const out = t.data instanceof Float32Array ? new Float32Array(t.data.length) : new Float64Array(t.data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const interleaved = h * headDim + 2 * i + j;
        const rotateHalf = h * headDim + j * half + i;
        const [from, to] = toHf ? [interleaved, rotateHalf] : [rotateHalf, interleaved];
        out.set(t.data.subarray(from * rowLen, (from + 1) * rowLen), to * rowLen);
      }
    }
  }
  return { data: out, shape: [...t.shape] };
}

/** HF q/k rows ([heads * D, in] weight or [heads * D] bias) -> llama2.c's interleaved order. */
export function rotaryRowsFromHf(t: Tensor, heads: number, headDim: number, name = 'tensor'): Tensor {
  return permuteHeadRows(t, heads, headDim, name, false);
}

/** llama2.c's interleaved q/k rows -> HF's rotate_half order (the inverse of rotaryRowsFromHf). */
export function rotaryRowsToHf(t: Tensor, heads: number, headDim: number, name = 'tensor'): Tensor {
  return permuteHeadRows(t, heads, headDim, name, true);
}
