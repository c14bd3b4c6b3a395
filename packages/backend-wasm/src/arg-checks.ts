/**
 * Argument checks shared by the wasm backend's ops, with its error texts: a kernel given a bad count, shift or
 * scalar would read or write outside its buffers or compute garbage instead of failing.
 */
export function count(op: string, name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`wasm ${op}: ${name} must be a non-negative integer, got ${v}`);
  return v;
}

export function shift(op: string, k: number): number {
  if (!Number.isInteger(k) || k < 0 || k > 63) throw new Error(`wasm ${op}: shift ${k} out of range [0, 63]`);
  return k;
}

export function scalar(op: string, s: bigint): bigint {
  if (typeof s !== 'bigint') throw new Error(`wasm ${op}: scalar must be a bigint, got ${typeof s}`);
  return s;
}
