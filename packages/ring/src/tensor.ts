/**
 * Z_2^64 tensors. The bytes are exactly those of a BigUint64Array (little-endian u64), which is also the
 * layout WGSL sees as array<vec2<u32>>, so buffers move between CPU, WebAssembly and GPU unchanged.
 */
export interface RingTensor {
  readonly data: BigUint64Array;
  readonly shape: readonly number[];
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function ringTensor(data: BigUint64Array, shape: readonly number[] = [data.length]): RingTensor {
  const n = sizeOf(shape);
  if (n !== data.length) throw new Error(`shape [${shape.join(', ')}] needs ${n} elements, got ${data.length}`);
  return { data, shape: [...shape] };
}

export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * n zeroed u64 words. Allocated as an ArrayBuffer first: V8 (Node 20) takes 2-3 times as long for
 * `new BigUint64Array(n)` as for the same words over `new ArrayBuffer(8 n)` once n passes about 16 K (2.0 to 3.7
 * ns a word against 0.9 to 1.2 with the copy that follows, 2026-12-07), and every share the protocol reads back
 * and every message it packs is such an array.
 */
export function zeroWords(n: number): BigUint64Array {
  return new BigUint64Array(new ArrayBuffer(8 * n));
}

/** Views a u64 array as its raw bytes (no copy). */
export function asBytes(a: BigUint64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Reads bytes back as u64 words; copies when the bytes are not 8-aligned. */
export function fromBytes(b: Uint8Array): BigUint64Array {
  if (b.byteLength % 8 !== 0) throw new Error(`byte length ${b.byteLength} is not a multiple of 8`);
  if (b.byteOffset % 8 === 0) return new BigUint64Array(b.buffer, b.byteOffset, b.byteLength / 8);
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new BigUint64Array(copy.buffer);
}

export const MASK64 = (1n << 64n) - 1n;
