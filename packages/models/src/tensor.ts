import { sizeOf } from '@puma/ring';
import type { FloatArray, Tensor } from './types.ts';

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function shapeEquals(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function makeTensor(data: FloatArray, shape: readonly number[], name = 'tensor'): Tensor {
  const n = sizeOf(shape);
  if (n !== data.length) throw new Error(`${name}: shape ${formatShape(shape)} needs ${n} elements, got ${data.length}`);
  return { data, shape: [...shape] };
}

export function assertShape(t: Tensor, shape: readonly number[], name: string): void {
  if (!shapeEquals(t.shape, shape)) {
    throw new Error(`${name}: expected shape ${formatShape(shape)}, got ${formatShape(t.shape)}`);
  }
  if (t.data.length !== sizeOf(shape)) {
    throw new Error(`${name}: shape ${formatShape(shape)} but ${t.data.length} elements`);
  }
}

/** Rejects NaN and infinities, naming the tensor and the first bad position. */
export function assertFinite(data: ArrayLike<number>, name: string): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new Error(`${name}: element ${i} is ${data[i]} (weights must be finite)`);
  }
}

/** [rows, cols] -> [cols, rows], keeping the element type (nn.Linear [out, in] -> [in, out]). */
export function transpose2d(t: Tensor, name = 'tensor'): Tensor {
  if (t.shape.length !== 2) throw new Error(`${name}: transpose needs a 2-D tensor, got shape ${formatShape(t.shape)}`);
  const [rows, cols] = t.shape;
  const out = t.data instanceof Float32Array ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
  const src = t.data;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + c];
  }
  return { data: out, shape: [cols, rows] };
}

/** Columns [start, end) of a 2-D tensor, or elements [start, end) of a 1-D one (splitting fused q|k|v). */
export function sliceLast(t: Tensor, start: number, end: number, name = 'tensor'): Tensor {
  const last = t.shape[t.shape.length - 1];
  if (t.shape.length < 1 || t.shape.length > 2 || start < 0 || end > last || start > end) {
    throw new Error(`${name}: cannot take [${start}, ${end}) of the last axis of shape ${formatShape(t.shape)}`);
  }
  const width = end - start;
  if (t.shape.length === 1) return { data: t.data.slice(start, end), shape: [width] };
  const rows = t.shape[0];
  const out = t.data instanceof Float32Array ? new Float32Array(rows * width) : new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(t.data.subarray(r * last + start, r * last + end), r * width);
  return { data: out, shape: [rows, width] };
}
