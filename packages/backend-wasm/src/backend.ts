/**
 * WebAssembly implementation of the Backend interface (packages/backend/src/backend.ts): the CPU fast path.
 * This file is the interface itself: each op checks its arguments, allocates its output and runs its kernel
 * (./kernels.ts). Buffers and their reclamation live in ./resident-buffers.ts, scratch space comes straight
 * from the heap (./heap.ts), and only upload and read copy through the JS heap (uploadWith lends the producer a
 * view of the heap instead).
 */
import type { Backend, Buf, MatmulDims } from '@puma/backend';
import { zeroWords } from '@puma/ring';
import { count, scalar, shift } from './arg-checks.ts';
import { Heap } from './heap.ts';
import { BROADCAST_B, kernelsModule, TRANS_A, TRANS_B, type Binary, type Kernels, type Scalar, type Shift, type Unary } from './kernels.ts';
import { ResidentBuffers } from './resident-buffers.ts';
import { planTranspose } from './transpose-plan.ts';

export interface WasmBackendStats {
  /** Bytes held by live buffers and in-flight scratch. */
  liveBytes: number;
  /** Size of the module's linear memory (it never shrinks; freed blocks are reused). */
  memoryBytes: number;
  /**
   * Bytes of GC nudges not yet collected: counted as external memory by the engine, but never written, so
   * never backed by physical pages (memory figures leave them out; several can await collection under load).
   */
  gcNudgeBytes: number;
}

export interface WasmBackend extends Backend {
  stats(): WasmBackendStats;
}

export async function createWasmBackend(): Promise<WasmBackend> {
  const instance = await WebAssembly.instantiate(await kernelsModule(), {});
  return new WasmBackendImpl(instance.exports as unknown as Kernels);
}

class WasmBackendImpl implements WasmBackend {
  readonly kind = 'wasm';
  readonly description = 'WebAssembly SIMD kernels (CPU, one thread)';
  private readonly heap: Heap;
  private readonly buffers: ResidentBuffers;
  private u64 = new BigUint64Array(0);
  private u8 = new Uint8Array(0);

  constructor(private readonly k: Kernels) {
    this.heap = new Heap(k.memory, k.heapBase() >>> 0);
    this.buffers = new ResidentBuffers(this.heap);
  }

  stats(): WasmBackendStats {
    return { liveBytes: this.heap.liveBytes, memoryBytes: this.heap.memoryBytes, gcNudgeBytes: this.buffers.gcNudgeBytes };
  }

  /** Views of linear memory; growing memory detaches the old ones, so they are re-made when stale. */
  private words(): BigUint64Array {
    if (this.u64.buffer !== this.k.memory.buffer) this.u64 = new BigUint64Array(this.k.memory.buffer);
    return this.u64;
  }
  private bytes(): Uint8Array {
    if (this.u8.buffer !== this.k.memory.buffer) this.u8 = new Uint8Array(this.k.memory.buffer);
    return this.u8;
  }

  private binary(op: string, f: Binary, a: Buf, b: Buf): Buf {
    const pa = this.buffers.addressOf(a, op);
    const pb = this.buffers.addressOf(b, op);
    if (a.length !== b.length) throw new Error(`wasm ${op}: length mismatch ${a.length} vs ${b.length}`);
    const o = this.buffers.alloc(a.length, op);
    f(pa, pb, o.ptr, a.length);
    return o;
  }

  private unary(op: string, f: Unary, a: Buf): Buf {
    const pa = this.buffers.addressOf(a, op);
    const o = this.buffers.alloc(a.length, op);
    f(pa, o.ptr, a.length);
    return o;
  }

  private withScalar(op: string, f: Scalar, a: Buf, s: bigint): Buf {
    const pa = this.buffers.addressOf(a, op);
    const v = scalar(op, s);
    const o = this.buffers.alloc(a.length, op);
    f(pa, v, o.ptr, a.length);
    return o;
  }

  private shifted(op: string, f: Shift, a: Buf, k: number): Buf {
    const pa = this.buffers.addressOf(a, op);
    const s = shift(op, k);
    const o = this.buffers.alloc(a.length, op);
    f(pa, s, o.ptr, a.length);
    return o;
  }

  /** Copies `n` words from src to dst (addresses in bytes). */
  private copy(dst: number, src: number, n: number): void {
    if (n > 0) this.bytes().copyWithin(dst, src, src + n * 8);
  }

  upload(data: BigUint64Array): Buf {
    if (!(data instanceof BigUint64Array)) throw new Error('wasm upload: data must be a BigUint64Array');
    const o = this.buffers.alloc(data.length, 'upload');
    this.words().set(data, o.ptr / 8);
    return o;
  }

  uploadWith(n: number, fill: (into: BigUint64Array) => void): Buf {
    const o = this.buffers.alloc(count('uploadWith', 'n', n), 'uploadWith');
    // The view is taken after the allocation (which may grow the heap) and used before any other kernel.
    try {
      fill(this.words().subarray(o.ptr / 8, o.ptr / 8 + n));
    } catch (e) {
      this.release(o);
      throw e;
    }
    return o;
  }

  async read(a: Buf): Promise<BigUint64Array> {
    const p = this.buffers.addressOf(a, 'read') / 8;
    // A fresh buffer, then one memcpy (ring zeroWords says why not new BigUint64Array(n)).
    const out = zeroWords(a.length);
    out.set(this.words().subarray(p, p + a.length));
    return out;
  }

  zeros(n: number): Buf {
    const o = this.buffers.alloc(count('zeros', 'n', n), 'zeros');
    if (n > 0) this.bytes().fill(0, o.ptr, o.ptr + n * 8);
    return o;
  }

  release(a: Buf): void {
    this.buffers.release(a);
  }

  add(a: Buf, b: Buf): Buf {
    return this.binary('add', this.k.add, a, b);
  }
  sub(a: Buf, b: Buf): Buf {
    return this.binary('sub', this.k.sub, a, b);
  }
  mul(a: Buf, b: Buf): Buf {
    return this.binary('mul', this.k.mul, a, b);
  }
  neg(a: Buf): Buf {
    return this.unary('neg', this.k.neg, a);
  }
  addScalar(a: Buf, s: bigint): Buf {
    return this.withScalar('addScalar', this.k.addScalar, a, s);
  }
  mulScalar(a: Buf, s: bigint): Buf {
    return this.withScalar('mulScalar', this.k.mulScalar, a, s);
  }
  shl(a: Buf, k: number): Buf {
    return this.shifted('shl', this.k.shl, a, k);
  }
  shrLogical(a: Buf, k: number): Buf {
    return this.shifted('shrLogical', this.k.shrLogical, a, k);
  }
  shrArith(a: Buf, k: number): Buf {
    return this.shifted('shrArith', this.k.shrArith, a, k);
  }
  and(a: Buf, b: Buf): Buf {
    return this.binary('and', this.k.and, a, b);
  }
  or(a: Buf, b: Buf): Buf {
    return this.binary('or', this.k.or, a, b);
  }
  xor(a: Buf, b: Buf): Buf {
    return this.binary('xor', this.k.xor, a, b);
  }
  not(a: Buf): Buf {
    return this.unary('not', this.k.not, a);
  }

  toBitPlanes(a: Buf): Buf {
    const pa = this.buffers.addressOf(a, 'toBitPlanes');
    const o = this.buffers.alloc(64 * Math.ceil(a.length / 64), 'toBitPlanes');
    this.k.toBitPlanes(pa, a.length, o.ptr);
    return o;
  }

  fromBitPlanes(planes: Buf, n: number, planeCount: number): Buf {
    const op = 'fromBitPlanes';
    const pp = this.buffers.addressOf(planes, op);
    count(op, 'n', n);
    if (!Number.isInteger(planeCount) || planeCount < 0 || planeCount > 64) {
      throw new Error(`wasm ${op}: planeCount ${planeCount} out of range [0, 64]`);
    }
    const w = Math.ceil(n / 64);
    if (planes.length < planeCount * w) {
      throw new Error(`wasm ${op}: ${planeCount} planes of ${w} words need ${planeCount * w}, got ${planes.length}`);
    }
    const o = this.buffers.alloc(n, op);
    this.k.fromBitPlanes(pp, n, planeCount, o.ptr);
    return o;
  }

  matmul(a: Buf, b: Buf, dims: MatmulDims): Buf {
    const op = 'matmul';
    const pa = this.buffers.addressOf(a, op);
    const pb = this.buffers.addressOf(b, op);
    if (typeof dims !== 'object' || dims === null) throw new Error(`wasm ${op}: dims must be an object`);
    const m = count(op, 'm', dims.m);
    const k = count(op, 'k', dims.k);
    const n = count(op, 'n', dims.n);
    const batch = count(op, 'batch', dims.batch ?? 1);
    const bBatch = dims.broadcastB ? 1 : batch;
    if (a.length !== batch * m * k) throw new Error(`wasm ${op}: a has ${a.length} elements, expected ${batch}x${m}x${k}`);
    if (b.length !== bBatch * k * n) throw new Error(`wasm ${op}: b has ${b.length} elements, expected ${bBatch}x${k}x${n}`);
    const flags = (dims.transA ? TRANS_A : 0) | (dims.transB ? TRANS_B : 0) | (dims.broadcastB ? BROADCAST_B : 0);
    const o = this.buffers.alloc(count(op, 'output size', batch * m * n), op);
    if (o.size === 0) return o;
    const scratchBytes = this.k.matmulScratchBytes(batch, m, k, n, flags) >>> 0;
    const scratch = this.heap.alloc(scratchBytes, op);
    try {
      this.k.matmul(pa, pb, o.ptr, batch, m, k, n, flags, scratch);
    } finally {
      this.heap.free(scratch, scratchBytes);
    }
    return o;
  }

  sumRows(a: Buf, rows: number, cols: number): Buf {
    const op = 'sumRows';
    const pa = this.buffers.addressOf(a, op);
    count(op, 'rows', rows);
    count(op, 'cols', cols);
    if (a.length !== rows * cols) throw new Error(`wasm ${op}: ${a.length} elements is not ${rows}x${cols}`);
    const o = this.buffers.alloc(rows, op);
    this.k.sumRows(pa, rows, cols, o.ptr);
    return o;
  }

  sliceCols(a: Buf, rows: number, cols: number, start: number, cnt: number): Buf {
    const op = 'sliceCols';
    const pa = this.buffers.addressOf(a, op);
    count(op, 'rows', rows);
    count(op, 'cols', cols);
    count(op, 'start', start);
    count(op, 'count', cnt);
    if (a.length !== rows * cols) throw new Error(`wasm ${op}: ${a.length} elements is not ${rows}x${cols}`);
    if (start + cnt > cols) throw new Error(`wasm ${op}: columns [${start}, ${start + cnt}) out of ${cols}`);
    const o = this.buffers.alloc(rows * cnt, op);
    if (o.size > 0) this.k.copy2d(pa + start * 8, cols, o.ptr, cnt, rows, cnt);
    return o;
  }

  concatCols(a: Buf, ca: number, b: Buf, cb: number, rows: number): Buf {
    const op = 'concatCols';
    const pa = this.buffers.addressOf(a, op);
    const pb = this.buffers.addressOf(b, op);
    count(op, 'ca', ca);
    count(op, 'cb', cb);
    count(op, 'rows', rows);
    if (a.length !== rows * ca || b.length !== rows * cb) {
      throw new Error(`wasm ${op}: shapes do not match (a ${a.length} elements for ${rows}x${ca}, b ${b.length} for ${rows}x${cb})`);
    }
    const w = ca + cb;
    const o = this.buffers.alloc(rows * w, op);
    if (o.size > 0) {
      this.k.copy2d(pa, ca, o.ptr, w, rows, ca);
      this.k.copy2d(pb, cb, o.ptr + ca * 8, w, rows, cb);
    }
    return o;
  }

  slice(a: Buf, start: number, cnt: number): Buf {
    const op = 'slice';
    const pa = this.buffers.addressOf(a, op);
    count(op, 'start', start);
    count(op, 'count', cnt);
    if (start + cnt > a.length) throw new Error(`wasm ${op}: [${start}, ${start + cnt}) out of ${a.length}`);
    const o = this.buffers.alloc(cnt, op);
    this.copy(o.ptr, pa + start * 8, cnt);
    return o;
  }

  concat(parts: Buf[]): Buf {
    const op = 'concat';
    if (!Array.isArray(parts)) throw new Error(`wasm ${op}: parts must be an array of buffers`);
    const ptrs = parts.map((p) => this.buffers.addressOf(p, op));
    const o = this.buffers.alloc(
      parts.reduce((s, p) => s + p.length, 0),
      op,
    );
    let at = o.ptr;
    parts.forEach((p, i) => {
      this.copy(at, ptrs[i], p.length);
      at += p.length * 8;
    });
    return o;
  }

  repeatEach(a: Buf, times: number): Buf {
    const op = 'repeatEach';
    const pa = this.buffers.addressOf(a, op);
    count(op, 'times', times);
    const o = this.buffers.alloc(a.length * times, op);
    if (o.size > 0) this.k.repeatEach(pa, a.length, times, o.ptr);
    return o;
  }

  tile(a: Buf, times: number): Buf {
    const op = 'tile';
    const pa = this.buffers.addressOf(a, op);
    count(op, 'times', times);
    const o = this.buffers.alloc(a.length * times, op);
    if (o.size > 0) this.k.tile(pa, a.length, times, o.ptr);
    return o;
  }

  transpose(a: Buf, shape: readonly number[], perm: readonly number[]): Buf {
    const op = 'transpose';
    const pa = this.buffers.addressOf(a, op);
    const { total, extents, strides } = planTranspose(op, a.length, shape, perm);
    const o = this.buffers.alloc(total, op);
    if (total === 0) return o;
    if (extents.length <= 1) {
      this.copy(o.ptr, pa, total);
      return o;
    }
    const r = extents.length;
    const meta = this.heap.alloc(r * 12, op);
    try {
      const m32 = new Int32Array(this.k.memory.buffer, meta, r * 3);
      m32.set(extents, 0);
      m32.set(strides, r);
      this.k.transpose(pa, o.ptr, r, meta, meta + r * 4, meta + r * 8);
    } finally {
      this.heap.free(meta, r * 12);
    }
    return o;
  }

  prg(key: Uint32Array, nonce: Uint32Array, n: number, counter = 0): Buf {
    const op = 'prg';
    if (!(key instanceof Uint32Array) || key.length !== 8) throw new Error(`wasm ${op}: key must be a Uint32Array of 8 words`);
    if (!(nonce instanceof Uint32Array) || nonce.length !== 3) throw new Error(`wasm ${op}: nonce must be a Uint32Array of 3 words`);
    count(op, 'n', n);
    if (!Number.isInteger(counter) || counter < 0 || counter >= 2 ** 32) {
      throw new Error(`wasm ${op}: counter ${counter} out of range [0, 2^32)`);
    }
    const blocks = Math.ceil(n / 8);
    if (counter + blocks > 2 ** 32) {
      throw new Error(`wasm ${op}: ChaCha20 block counter would overflow (${blocks} blocks from ${counter})`);
    }
    const o = this.buffers.alloc(n, op);
    if (n > 0) {
      const [k0, k1, k2, k3, k4, k5, k6, k7] = key;
      this.k.chacha(k0, k1, k2, k3, k4, k5, k6, k7, nonce[0], nonce[1], nonce[2], counter, n, o.ptr);
    }
    return o;
  }
}
