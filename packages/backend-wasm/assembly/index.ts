// Entry point of the kernels module: every export here is callable through src/kernels.ts (the Kernels interface).
export { add, sub, mul, and, or, xor, addScalar, mulScalar, neg, not, shl, shrLogical, shrArith } from './elementwise';
export { toBitPlanes, fromBitPlanes } from './bits';
export { copy2d, repeatEach, tile, sumRows, transpose } from './layout';
export { matmul, matmulScratchBytes } from './matmul';
export { chacha, chachaSubFrom } from './chacha';
export { encodeFixed } from './fixed';
export { splitEncode } from './split';

// First byte free for the host's allocator: everything below holds the module's static data.
export function heapBase(): usize {
  return __heap_base;
}
