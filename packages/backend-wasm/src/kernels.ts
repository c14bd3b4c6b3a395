/**
 * The compiled kernels: the AssemblyScript in ../assembly, built by scripts/build.mjs into
 * kernels.wasm.generated.ts as base64, so this module loads the same way in Node, browsers and Web Workers (no
 * file fetch, no Node APIs). Kept apart from the backend because the dealer's splitter (dealer-split.ts)
 * instantiates the same module for its own exports.
 */
import { KERNELS_WASM_BASE64 } from './kernels.wasm.generated.ts';

export type Binary = (a: number, b: number, o: number, n: number) => void;
export type Unary = (a: number, o: number, n: number) => void;
export type Scalar = (a: number, s: bigint, o: number, n: number) => void;
export type Shift = (a: number, k: number, o: number, n: number) => void;

/** Exports of the kernels module (see ../assembly/index.ts). Pointers are byte addresses, counts are words. */
export interface Kernels {
  memory: WebAssembly.Memory;
  heapBase(): number;
  add: Binary;
  sub: Binary;
  mul: Binary;
  and: Binary;
  or: Binary;
  xor: Binary;
  neg: Unary;
  not: Unary;
  addScalar: Scalar;
  mulScalar: Scalar;
  shl: Shift;
  shrLogical: Shift;
  shrArith: Shift;
  toBitPlanes(a: number, n: number, out: number): void;
  fromBitPlanes(planes: number, n: number, planeCount: number, out: number): void;
  copy2d(src: number, srcStride: number, dst: number, dstStride: number, rows: number, cols: number): void;
  repeatEach(a: number, n: number, times: number, o: number): void;
  tile(a: number, n: number, times: number, o: number): void;
  sumRows(a: number, rows: number, cols: number, o: number): void;
  transpose(src: number, o: number, rank: number, shape: number, stride: number, idx: number): void;
  matmulScratchBytes(batch: number, m: number, k: number, n: number, flags: number): number;
  matmul(a: number, b: number, c: number, batch: number, m: number, k: number, n: number, flags: number, scratch: number): void;
  chacha(
    k0: number, k1: number, k2: number, k3: number, k4: number, k5: number, k6: number, k7: number,
    n0: number, n1: number, n2: number, counter: number, n: number, o: number,
  ): void;
}

/** Flag bits of the matmul kernel (../assembly/matmul.ts). */
export const TRANS_A = 1;
export const TRANS_B = 2;
export const BROADCAST_B = 4;

let compiled: Promise<WebAssembly.Module> | undefined;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Compiles the module once per JS realm; each backend instance gets its own instance and memory. */
export function kernelsModule(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compile(decodeBase64(KERNELS_WASM_BASE64)).catch((e: unknown) => {
    compiled = undefined;
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`wasm backend: cannot compile the kernels (this engine needs WebAssembly SIMD): ${why}`);
  });
  return compiled;
}
