/**
 * WebAssembly implementation of the Backend interface (packages/backend/src/backend.ts): the CPU fast path.
 *
 * The kernels are AssemblyScript (../assembly), compiled by scripts/build.mjs into kernels.wasm.generated.ts
 * as base64, so this module loads the same way in Node, browsers and Web Workers (no file fetch, no Node APIs).
 *
 * Memory: every Buf is resident in the module's linear memory (allocated by ./heap.ts), so chained kernels
 * run without copying through the JS heap; only upload and read copy. release() frees a buffer at once; a
 * buffer that is simply dropped is freed when the JS garbage collector reclaims its handle
 * (FinalizationRegistry). wasm32 caps the live total at 4 GiB per backend instance.
 *
 * Registering a handle with the FinalizationRegistry costs about 1.3 us of CPU (3 us with an unregister
 * token), and a party makes about 70 buffers per round, most of them temporaries of one protocol step. So
 * handles are registered late: a new buffer waits in a nursery (PENDING_MAX buffers or PENDING_BYTES; one
 * 64-bit MSB circuit alone makes several hundred one-plane temporaries),
 * and when the nursery fills, only the buffers not yet released are registered; a buffer released while
 * still in the nursery never touches the registry. Registered buffers carry no unregister token: release()
 * marks their block freed, and the finalizer skips freed blocks.
 *
 * The garbage collector cannot see linear memory: a handle weighs a few dozen bytes of JS heap however large
 * its block, so dropped buffers pile up until unrelated allocation triggers a collection (measured: 1.6 GiB of
 * garbage for a 2.4 MiB working set). So after every GC_NUDGE_EVERY bytes of allocations the backend also
 * allocates a throwaway GC_NUDGE_BYTES ArrayBuffer, which engines count as external memory and answer with a
 * collection (the same run then peaks at 0.35-0.55 GiB). The nudge is never written, so large zeroed
 * allocations (mapped lazily by V8/Node and browsers) cost address space, not physical memory. Code that
 * releases its temporaries does not depend on any of this.
 */
import type { Backend, Buf, MatmulDims } from '@puma/backend';
import { Heap } from './heap.ts';
import { KERNELS_WASM_BASE64 } from './kernels.wasm.generated.ts';

export { matmulRate } from './rate.ts';
export { createDealerSplitter, type DealerSplitter } from './dealer-split.ts';
/** The compiled kernels, for callers that key cached measurements by kernel version (worker/calibrate-cache.ts). */
export { KERNELS_WASM_BASE64 } from './kernels.wasm.generated.ts';

type Binary = (a: number, b: number, o: number, n: number) => void;
type Unary = (a: number, o: number, n: number) => void;
type Scalar = (a: number, s: bigint, o: number, n: number) => void;
type Shift = (a: number, k: number, o: number, n: number) => void;

/** Exports of the kernels module (see ../assembly/index.ts). Pointers are byte addresses, counts are words. */
interface Kernels {
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
const TRANS_A = 1;
const TRANS_B = 2;
const BROADCAST_B = 4;

const GC_NUDGE_EVERY = 128 * 2 ** 20;
const GC_NUDGE_BYTES = 64 * 2 ** 20;
const PENDING_MAX = 4096;
const PENDING_BYTES = 32 * 2 ** 20;

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

class WasmBuffer implements Buf {
  released = false;
  constructor(
    readonly owner: WasmBackendImpl,
    readonly ptr: number,
    readonly size: number,
    /** Held by the finalizer too (never the handle itself, which would keep the handle alive). */
    readonly block: Block,
  ) {}
  get length(): number {
    if (this.released) throw new Error('wasm backend: buffer used after release');
    return this.size;
  }
}

interface Block {
  ptr: number;
  bytes: number;
  /** Set by release(), so the handle's later finalization does not free the block a second time. */
  freed: boolean;
}

const EMPTY: Block = { ptr: 0, bytes: 0, freed: true };

function count(op: string, name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`wasm ${op}: ${name} must be a non-negative integer, got ${v}`);
  return v;
}

function shift(op: string, k: number): number {
  if (!Number.isInteger(k) || k < 0 || k > 63) throw new Error(`wasm ${op}: shift ${k} out of range [0, 63]`);
  return k;
}

function scalar(op: string, s: bigint): bigint {
  if (typeof s !== 'bigint') throw new Error(`wasm ${op}: scalar must be a bigint, got ${typeof s}`);
  return s;
}

class WasmBackendImpl implements WasmBackend {
  readonly kind = 'wasm';
  readonly description = 'WebAssembly SIMD kernels (CPU, one thread)';
  private readonly heap: Heap;
  private readonly registry: FinalizationRegistry<Block>;
  /** New buffers not yet registered for finalization (see the header); held strongly until then. */
  private pending: WasmBuffer[] = [];
  private pendingBytes = 0;
  private sinceNudge = 0;
  /** The latest nudge; kept in a field only so no engine can optimise the allocation away. */
  private nudge: ArrayBuffer | null = null;
  private nudgeBytes = 0;
  private readonly nudges = new FinalizationRegistry<number>((bytes) => (this.nudgeBytes -= bytes));
  private u64 = new BigUint64Array(0);
  private u8 = new Uint8Array(0);

  constructor(private readonly k: Kernels) {
    this.heap = new Heap(k.memory, k.heapBase() >>> 0);
    this.registry = new FinalizationRegistry((b) => {
      if (!b.freed) this.heap.free(b.ptr, b.bytes);
    });
  }

  stats(): WasmBackendStats {
    return { liveBytes: this.heap.liveBytes, memoryBytes: this.heap.memoryBytes, gcNudgeBytes: this.nudgeBytes };
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

  /** Address of a live buffer of this backend; throws for foreign or released buffers. */
  private ptr(a: Buf, op: string): number {
    if (!(a instanceof WasmBuffer) || a.owner !== this) throw new Error(`wasm ${op}: argument is not a buffer of this wasm backend`);
    if (a.released) throw new Error(`wasm ${op}: buffer used after release`);
    return a.ptr;
  }

  private out(n: number, op: string): WasmBuffer {
    if (n === 0) return new WasmBuffer(this, 0, 0, EMPTY);
    const bytes = n * 8;
    const ptr = this.heap.alloc(bytes, op);
    const buf = new WasmBuffer(this, ptr, n, { ptr, bytes, freed: false });
    this.sinceNudge += bytes;
    if (this.sinceNudge >= GC_NUDGE_EVERY) {
      this.sinceNudge = 0;
      this.nudge = new ArrayBuffer(GC_NUDGE_BYTES);
      this.nudgeBytes += GC_NUDGE_BYTES;
      this.nudges.register(this.nudge, GC_NUDGE_BYTES);
    }
    this.pending.push(buf);
    this.pendingBytes += bytes;
    if (this.pending.length >= PENDING_MAX || this.pendingBytes >= PENDING_BYTES) this.registerPending();
    return buf;
  }

  /** Hands the nursery's unreleased buffers to the finalization registry. */
  private registerPending(): void {
    for (const b of this.pending) if (!b.released) this.registry.register(b, b.block);
    this.pending = [];
    this.pendingBytes = 0;
  }

  private binary(op: string, f: Binary, a: Buf, b: Buf): Buf {
    const pa = this.ptr(a, op);
    const pb = this.ptr(b, op);
    if (a.length !== b.length) throw new Error(`wasm ${op}: length mismatch ${a.length} vs ${b.length}`);
    const o = this.out(a.length, op);
    f(pa, pb, o.ptr, a.length);
    return o;
  }

  private unary(op: string, f: Unary, a: Buf): Buf {
    const pa = this.ptr(a, op);
    const o = this.out(a.length, op);
    f(pa, o.ptr, a.length);
    return o;
  }

  private withScalar(op: string, f: Scalar, a: Buf, s: bigint): Buf {
    const pa = this.ptr(a, op);
    const v = scalar(op, s);
    const o = this.out(a.length, op);
    f(pa, v, o.ptr, a.length);
    return o;
  }

  private shifted(op: string, f: Shift, a: Buf, k: number): Buf {
    const pa = this.ptr(a, op);
    const s = shift(op, k);
    const o = this.out(a.length, op);
    f(pa, s, o.ptr, a.length);
    return o;
  }

  /** Copies `n` words from src to dst (addresses in bytes). */
  private copy(dst: number, src: number, n: number): void {
    if (n > 0) this.bytes().copyWithin(dst, src, src + n * 8);
  }

  upload(data: BigUint64Array): Buf {
    if (!(data instanceof BigUint64Array)) throw new Error('wasm upload: data must be a BigUint64Array');
    const o = this.out(data.length, 'upload');
    this.words().set(data, o.ptr / 8);
    return o;
  }

  async read(a: Buf): Promise<BigUint64Array> {
    const p = this.ptr(a, 'read') / 8;
    // new + set is a plain memcpy; slice() on a BigUint64Array measured about 2.5x slower.
    const out = new BigUint64Array(a.length);
    out.set(this.words().subarray(p, p + a.length));
    return out;
  }

  zeros(n: number): Buf {
    const o = this.out(count('zeros', 'n', n), 'zeros');
    if (n > 0) this.bytes().fill(0, o.ptr, o.ptr + n * 8);
    return o;
  }

  release(a: Buf): void {
    if (!(a instanceof WasmBuffer) || a.owner !== this) throw new Error('wasm release: argument is not a buffer of this wasm backend');
    if (a.released) throw new Error('wasm release: buffer already released');
    a.released = true;
    if (a.size > 0) {
      a.block.freed = true;
      this.heap.free(a.ptr, a.size * 8);
    }
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
    const pa = this.ptr(a, 'toBitPlanes');
    const o = this.out(64 * Math.ceil(a.length / 64), 'toBitPlanes');
    this.k.toBitPlanes(pa, a.length, o.ptr);
    return o;
  }

  fromBitPlanes(planes: Buf, n: number, planeCount: number): Buf {
    const op = 'fromBitPlanes';
    const pp = this.ptr(planes, op);
    count(op, 'n', n);
    if (!Number.isInteger(planeCount) || planeCount < 0 || planeCount > 64) {
      throw new Error(`wasm ${op}: planeCount ${planeCount} out of range [0, 64]`);
    }
    const w = Math.ceil(n / 64);
    if (planes.length < planeCount * w) {
      throw new Error(`wasm ${op}: ${planeCount} planes of ${w} words need ${planeCount * w}, got ${planes.length}`);
    }
    const o = this.out(n, op);
    this.k.fromBitPlanes(pp, n, planeCount, o.ptr);
    return o;
  }

  matmul(a: Buf, b: Buf, dims: MatmulDims): Buf {
    const op = 'matmul';
    const pa = this.ptr(a, op);
    const pb = this.ptr(b, op);
    if (typeof dims !== 'object' || dims === null) throw new Error(`wasm ${op}: dims must be an object`);
    const m = count(op, 'm', dims.m);
    const k = count(op, 'k', dims.k);
    const n = count(op, 'n', dims.n);
    const batch = count(op, 'batch', dims.batch ?? 1);
    const bBatch = dims.broadcastB ? 1 : batch;
    if (a.length !== batch * m * k) throw new Error(`wasm ${op}: a has ${a.length} elements, expected ${batch}x${m}x${k}`);
    if (b.length !== bBatch * k * n) throw new Error(`wasm ${op}: b has ${b.length} elements, expected ${bBatch}x${k}x${n}`);
    const flags = (dims.transA ? TRANS_A : 0) | (dims.transB ? TRANS_B : 0) | (dims.broadcastB ? BROADCAST_B : 0);
    const o = this.out(count(op, 'output size', batch * m * n), op);
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
    const pa = this.ptr(a, op);
    count(op, 'rows', rows);
    count(op, 'cols', cols);
    if (a.length !== rows * cols) throw new Error(`wasm ${op}: ${a.length} elements is not ${rows}x${cols}`);
    const o = this.out(rows, op);
    this.k.sumRows(pa, rows, cols, o.ptr);
    return o;
  }

  sliceCols(a: Buf, rows: number, cols: number, start: number, cnt: number): Buf {
    const op = 'sliceCols';
    const pa = this.ptr(a, op);
    count(op, 'rows', rows);
    count(op, 'cols', cols);
    count(op, 'start', start);
    count(op, 'count', cnt);
    if (a.length !== rows * cols) throw new Error(`wasm ${op}: ${a.length} elements is not ${rows}x${cols}`);
    if (start + cnt > cols) throw new Error(`wasm ${op}: columns [${start}, ${start + cnt}) out of ${cols}`);
    const o = this.out(rows * cnt, op);
    if (o.size > 0) this.k.copy2d(pa + start * 8, cols, o.ptr, cnt, rows, cnt);
    return o;
  }

  concatCols(a: Buf, ca: number, b: Buf, cb: number, rows: number): Buf {
    const op = 'concatCols';
    const pa = this.ptr(a, op);
    const pb = this.ptr(b, op);
    count(op, 'ca', ca);
    count(op, 'cb', cb);
    count(op, 'rows', rows);
    if (a.length !== rows * ca || b.length !== rows * cb) {
      throw new Error(`wasm ${op}: shapes do not match (a ${a.length} elements for ${rows}x${ca}, b ${b.length} for ${rows}x${cb})`);
    }
    const w = ca + cb;
    const o = this.out(rows * w, op);
    if (o.size > 0) {
      this.k.copy2d(pa, ca, o.ptr, w, rows, ca);
      this.k.copy2d(pb, cb, o.ptr + ca * 8, w, rows, cb);
    }
    return o;
  }

  slice(a: Buf, start: number, cnt: number): Buf {
    const op = 'slice';
    const pa = this.ptr(a, op);
    count(op, 'start', start);
    count(op, 'count', cnt);
    if (start + cnt > a.length) throw new Error(`wasm ${op}: [${start}, ${start + cnt}) out of ${a.length}`);
    const o = this.out(cnt, op);
    this.copy(o.ptr, pa + start * 8, cnt);
    return o;
  }

  concat(parts: Buf[]): Buf {
    const op = 'concat';
    if (!Array.isArray(parts)) throw new Error(`wasm ${op}: parts must be an array of buffers`);
    const ptrs = parts.map((p) => this.ptr(p, op));
    const o = this.out(
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
    const pa = this.ptr(a, op);
    count(op, 'times', times);
    const o = this.out(a.length * times, op);
    if (o.size > 0) this.k.repeatEach(pa, a.length, times, o.ptr);
    return o;
  }

  tile(a: Buf, times: number): Buf {
    const op = 'tile';
    const pa = this.ptr(a, op);
    count(op, 'times', times);
    const o = this.out(a.length * times, op);
    if (o.size > 0) this.k.tile(pa, a.length, times, o.ptr);
    return o;
  }

  transpose(a: Buf, shape: readonly number[], perm: readonly number[]): Buf {
    const op = 'transpose';
    const pa = this.ptr(a, op);
    const rank = shape.length;
    shape.forEach((d, i) => count(op, `shape[${i}]`, d));
    const seen = new Array<boolean>(rank).fill(false);
    const isPerm = perm.length === rank && perm.every((p) => Number.isInteger(p) && p >= 0 && p < rank && !seen[p] && (seen[p] = true));
    if (!isPerm) throw new Error(`wasm ${op}: bad permutation [${perm.join(', ')}] for rank ${rank}`);
    const total = shape.reduce((s, v) => s * v, 1);
    if (total !== a.length) throw new Error(`wasm ${op}: shape [${shape.join(', ')}] does not hold ${a.length} elements`);

    const inStride = new Array<number>(rank);
    for (let i = rank - 1, s = 1; i >= 0; i--) {
      inStride[i] = s;
      s *= shape[i];
    }
    // Output axes with their source strides; unit axes dropped, and neighbours that are contiguous in the
    // source merged, so common cases reduce to a plain copy or a 2-D tiled transpose.
    const ext: number[] = [];
    const str: number[] = [];
    for (const p of perm) {
      if (shape[p] === 1) continue;
      const last = ext.length - 1;
      if (last >= 0 && str[last] === inStride[p] * shape[p]) {
        ext[last] *= shape[p];
        str[last] = inStride[p];
      } else {
        ext.push(shape[p]);
        str.push(inStride[p]);
      }
    }
    const o = this.out(total, op);
    if (total === 0) return o;
    if (ext.length <= 1) {
      this.copy(o.ptr, pa, total);
      return o;
    }
    const r = ext.length;
    const meta = this.heap.alloc(r * 12, op);
    try {
      const m32 = new Int32Array(this.k.memory.buffer, meta, r * 3);
      m32.set(ext, 0);
      m32.set(str, r);
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
    const o = this.out(n, op);
    if (n > 0) {
      const [k0, k1, k2, k3, k4, k5, k6, k7] = key;
      this.k.chacha(k0, k1, k2, k3, k4, k5, k6, k7, nonce[0], nonce[1], nonce[2], counter, n, o.ptr);
    }
    return o;
  }
}
