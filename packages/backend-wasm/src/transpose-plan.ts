/**
 * What a transpose amounts to as a strided copy: the shape and permutation checks, and the reduction of the
 * output axes to the fewest strided ones the transpose kernel walks. Pure shape arithmetic, apart from the
 * backend's memory and kernels, so the reduction reads on its own.
 */
import { count } from './arg-checks.ts';

export interface TransposePlan {
  /** Elements in the tensor. */
  total: number;
  /** Extent of each output axis left after the reduction, outermost first. */
  extents: number[];
  /** Source stride in words of each of those axes. */
  strides: number[];
}

/** Checks `shape` and `perm` against a tensor of `length` elements (throwing as op `op`) and plans the copy. */
export function planTranspose(op: string, length: number, shape: readonly number[], perm: readonly number[]): TransposePlan {
  const rank = shape.length;
  shape.forEach((d, i) => count(op, `shape[${i}]`, d));
  const seen = new Array<boolean>(rank).fill(false);
  const isPerm = perm.length === rank && perm.every((p) => Number.isInteger(p) && p >= 0 && p < rank && !seen[p] && (seen[p] = true));
  if (!isPerm) throw new Error(`wasm ${op}: bad permutation [${perm.join(', ')}] for rank ${rank}`);
  const total = shape.reduce((s, v) => s * v, 1);
  if (total !== length) throw new Error(`wasm ${op}: shape [${shape.join(', ')}] does not hold ${length} elements`);

  const inStride = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStride[i] = s;
    s *= shape[i];
  }
  // Output axes with their source strides; unit axes dropped, and neighbours that are contiguous in the
  // source merged, so common cases reduce to a plain copy or a 2-D tiled transpose.
  const extents: number[] = [];
  const strides: number[] = [];
  for (const p of perm) {
    if (shape[p] === 1) continue;
    const last = extents.length - 1;
    if (last >= 0 && strides[last] === inStride[p] * shape[p]) {
      extents[last] *= shape[p];
      strides[last] = inStride[p];
    } else {
      extents.push(shape[p]);
      strides.push(inStride[p]);
    }
  }
  return { total, extents, strides };
}
