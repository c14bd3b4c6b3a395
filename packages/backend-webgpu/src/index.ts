/// <reference types="@webgpu/types" />
/**
 * WebGPU implementation of the Backend interface (WGSL in shaders/). A Buf is a GPU storage buffer, so shares
 * stay on the device between kernels. Kernels only record work: each kernel's commands go into their own
 * command buffer, which is submitted in batches, and `read` copies to a mappable staging buffer and waits.
 *
 * Errors: GPU validation, out-of-memory and internal errors are asynchronous in WebGPU. Every kernel runs
 * inside its own error scopes; the next `read` waits for them and throws an Error naming the first kernel that
 * failed, and from then on the backend refuses all work (results computed after a failure cannot be trusted).
 * A lost device makes every later call throw. Argument errors (lengths, ranges) throw synchronously with the
 * reference backend's messages.
 */
import type { Backend, Buf, MatmulDims } from '@puma/backend';
import { checkKeyNonce } from '@puma/ring';
import { KERNELS, pipelinesFor, type KernelName, type KernelSpec, type Pipelines } from './kernels.ts';
import { alignedChunk, alignedRange, fits, grid2d, largest, MATMUL_TILE, matmulStrides, pieces, planMatmul, planRows, type BindingLimits } from './split.ts';

// Flag values fixed by the WebGPU spec; spelled out so the backend needs no WebGPU globals (Node's Dawn
// binding provides the API objects without installing them on globalThis).
const BUFFER_MAP_READ = 0x0001;
const BUFFER_COPY_SRC = 0x0004;
const BUFFER_COPY_DST = 0x0008;
const BUFFER_UNIFORM = 0x0040;
const BUFFER_STORAGE = 0x0080;
const MAP_MODE_READ = 0x0001;

/** Kernels recorded before their command buffers are submitted without waiting for a read. */
const SUBMIT_EVERY = 32;
/** Every uniform block of every kernel fits in this many bytes. */
const UNIFORM_BYTES = 256;
/** Transposes with more axes (after merging axes that stay adjacent) are rejected. */
const MAX_TRANSPOSE_RANK = 8;

export interface WebGpuBackendOptions {
  /** The WebGPU entry point; defaults to navigator.gpu. */
  gpu?: GPU;
  /** Use this device instead of requesting one; the backend then leaves it alive on destroy(). */
  device?: GPUDevice;
  powerPreference?: GPUPowerPreference;
  /** Treat storage bindings as at most this many bytes, to exercise the splitting paths on small tensors. */
  maxBindingBytes?: number;
  /** Treat grids as at most this many workgroups per dimension, to exercise 2-D dispatch on small tensors. */
  maxWorkgroupsPerDimension?: number;
  /** Bytes of released buffers kept for reuse; the rest are destroyed. Default 256 MiB. */
  poolBytes?: number;
}

export interface WebGpuProbe {
  available: boolean;
  isFallbackAdapter: boolean;
  description: string;
}

class GpuBuf implements Buf {
  constructor(
    readonly length: number,
    public gpu: GPUBuffer | null,
    readonly owner: WebGpuBackend,
  ) {}
}

/** A storage binding of part of a buffer: `base` is the index of its first u64 element in the buffer. */
interface Bound {
  binding: GPUBufferBinding;
  base: number;
}

function fallbackOf(info: GPUAdapterInfo | undefined, adapter?: GPUAdapter): boolean {
  const legacy = adapter as (GPUAdapter & { isFallbackAdapter?: boolean }) | undefined;
  return Boolean(info?.isFallbackAdapter ?? legacy?.isFallbackAdapter ?? false);
}

function describe(info: GPUAdapterInfo | undefined, fallback: boolean): string {
  const parts = info ? [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0) : [];
  const name = parts.length > 0 ? [...new Set(parts)].join(' ') : 'unknown adapter';
  return `WebGPU: ${name}${fallback ? ' (fallback adapter)' : ''}`;
}

/** Size class of a pooled buffer: 256-byte steps up to 64 KiB, then quarter steps of a power of two. */
function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 256);
  if (b <= 65536) return Math.ceil(b / 256) * 256;
  const step = 2 ** Math.floor(Math.log2(b)) / 4;
  return Math.ceil(b / step) * step;
}

function u64Words(s: bigint): [number, number] {
  const v = BigInt.asUintN(64, s);
  return [Number(v & 0xffffffffn), Number(v >> 32n)];
}

function checkShift(k: number): void {
  if (!Number.isInteger(k) || k < 0 || k > 63) throw new Error(`shift ${k} out of range [0, 63]`);
}

function checkCount(op: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: ${what} must be a non-negative integer, got ${v}`);
}

export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu';
  readonly description: string;
  readonly isFallbackAdapter: boolean;
  readonly device: GPUDevice;

  private readonly ownsDevice: boolean;
  private readonly limits: BindingLimits;
  private readonly maxGroups: number;
  private readonly maxBufferSize: number;
  private readonly poolBytes: number;
  private readonly pipes: Pipelines;

  /** Finished, not yet submitted command buffers, and the kernels they belong to. */
  private pending: GPUCommandBuffer[] = [];
  private pendingNames: string[] = [];
  /** Buffers whose last use is in `pending`: they return to the pools once that is submitted. */
  private retiring: GPUBuffer[] = [];
  private retiringUniforms: GPUBuffer[] = [];
  private freeStorage = new Map<number, GPUBuffer[]>();
  private freeStorageBytes = 0;
  private freeUniforms: GPUBuffer[] = [];
  private freeStaging = new Map<number, GPUBuffer[]>();
  /** Error-scope results not yet awaited by a read. */
  private checks: Promise<void>[] = [];
  private failure: Error | null = null;
  private lost: GPUDeviceLostInfo | null = null;

  constructor(device: GPUDevice, pipes: Pipelines, description: string, isFallbackAdapter: boolean, ownsDevice: boolean, opts: WebGpuBackendOptions) {
    this.device = device;
    this.pipes = pipes;
    this.description = description;
    this.isFallbackAdapter = isFallbackAdapter;
    this.ownsDevice = ownsDevice;
    const lim = device.limits;
    const bindingBytes = Math.min(lim.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
    this.limits = { maxElems: Math.floor(bindingBytes / 8), alignElems: Math.max(1, lim.minStorageBufferOffsetAlignment / 8) };
    this.maxGroups = Math.min(lim.maxComputeWorkgroupsPerDimension, opts.maxWorkgroupsPerDimension ?? Infinity);
    this.maxBufferSize = lim.maxBufferSize;
    this.poolBytes = opts.poolBytes ?? 256 * 2 ** 20;
    void device.lost.then((info) => {
      this.lost = info;
    });
    device.addEventListener('uncapturederror', (ev) => {
      this.fail(new Error(`webgpu: uncaptured GPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`));
    });
  }

  /** Submits outstanding work, frees pooled buffers and, when the backend created the device, destroys it. */
  destroy(): void {
    if (!this.lost) this.submit();
    for (const list of [...this.freeStorage.values(), ...this.freeStaging.values(), this.freeUniforms]) for (const b of list) b.destroy();
    this.freeStorage.clear();
    this.freeStaging.clear();
    this.freeUniforms = [];
    this.freeStorageBytes = 0;
    if (this.ownsDevice) this.device.destroy();
  }

  // ---- state, errors, buffers ------------------------------------------------------------------------------

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
  }

  /** Throws when the backend can no longer produce trustworthy results. */
  private usable(op: string): void {
    if (this.lost) throw new Error(`webgpu ${op}: GPU device lost (${this.lost.reason}): ${this.lost.message}`);
    if (this.failure) throw new Error(`webgpu ${op}: backend unusable after an earlier GPU error: ${this.failure.message}`);
  }

  private gpuOf(op: string, a: Buf): GPUBuffer {
    if (!(a instanceof GpuBuf) || a.owner !== this) throw new Error(`webgpu ${op}: buffer does not belong to this backend`);
    if (!a.gpu) throw new Error(`webgpu ${op}: buffer used after release`);
    return a.gpu;
  }

  private same(op: string, a: Buf, b: Buf): void {
    if (a.length !== b.length) throw new Error(`${op}: length mismatch ${a.length} vs ${b.length}`);
  }

  /** Runs `body` inside error scopes that attribute GPU errors to `op`. */
  private scoped<T>(op: string, body: () => T): T {
    this.usable(op);
    const d = this.device;
    d.pushErrorScope('internal');
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    try {
      return body();
    } finally {
      const validation = d.popErrorScope();
      const oom = d.popErrorScope();
      const internal = d.popErrorScope();
      this.checks.push(
        Promise.all([validation, oom, internal]).then(
          ([v, o, i]) => {
            if (o) this.fail(new Error(`webgpu ${op}: out of GPU memory: ${o.message}`));
            else if (v) this.fail(new Error(`webgpu ${op}: validation error: ${v.message}`));
            else if (i) this.fail(new Error(`webgpu ${op}: internal GPU error: ${i.message}`));
          },
          (e: unknown) => this.fail(new Error(`webgpu ${op}: ${(e as Error).message}`)),
        ),
      );
      if (this.checks.length > 1024) this.checks = [Promise.all(this.checks).then(() => undefined)];
    }
  }

  /** Records one kernel: its commands become one command buffer, submitted with the next batch. */
  private kernel<T>(op: string, body: (enc: GPUCommandEncoder) => T): T {
    const result = this.scoped(op, () => {
      const enc = this.device.createCommandEncoder({ label: op });
      const r = body(enc);
      this.pending.push(enc.finish());
      this.pendingNames.push(op);
      return r;
    });
    if (this.pending.length >= SUBMIT_EVERY) this.submit();
    return result;
  }

  private submit(): void {
    if (this.pending.length > 0) {
      const cbs = this.pending;
      const names = [...new Set(this.pendingNames)].join(', ');
      this.pending = [];
      this.pendingNames = [];
      this.scoped(`submit of ${names}`, () => this.device.queue.submit(cbs));
    }
    for (const b of this.retiring) this.toPool(b);
    this.retiring = [];
    this.freeUniforms.push(...this.retiringUniforms);
    this.retiringUniforms = [];
  }

  private toPool(b: GPUBuffer): void {
    if (this.freeStorageBytes + b.size > this.poolBytes) {
      b.destroy();
      return;
    }
    const list = this.freeStorage.get(b.size);
    if (list) list.push(b);
    else this.freeStorage.set(b.size, [b]);
    this.freeStorageBytes += b.size;
  }

  /** A storage buffer for n elements (contents undefined). Call inside `scoped`, so OOM is attributed. */
  private alloc(op: string, n: number): GpuBuf {
    const bytes = n * 8;
    if (bytes > this.maxBufferSize) throw new Error(`webgpu ${op}: ${n} elements (${bytes} bytes) exceed the device's maxBufferSize of ${this.maxBufferSize} bytes`);
    const size = Math.min(sizeClass(bytes), Math.max(this.maxBufferSize, 256));
    const reuse = this.freeStorage.get(size)?.pop();
    if (reuse) {
      this.freeStorageBytes -= size;
      return new GpuBuf(n, reuse, this);
    }
    const gpu = this.device.createBuffer({ label: op, size, usage: BUFFER_STORAGE | BUFFER_COPY_SRC | BUFFER_COPY_DST });
    return new GpuBuf(n, gpu, this);
  }

  private uniform(op: string, values: readonly number[]): GPUBuffer {
    // Index arithmetic happens in u32 on the GPU; a value that does not fit would silently wrap.
    for (const v of values) if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32) throw new Error(`webgpu ${op}: kernel parameter ${v} is outside the u32 range`);
    const words = Uint32Array.from(values);
    const buf = this.freeUniforms.pop() ?? this.device.createBuffer({ label: 'params', size: UNIFORM_BYTES, usage: BUFFER_UNIFORM | BUFFER_COPY_DST });
    // The buffer is not used by any submitted or pending work, so writing it now cannot race.
    this.device.queue.writeBuffer(buf, 0, words.buffer, words.byteOffset, words.byteLength);
    this.retiringUniforms.push(buf);
    return buf;
  }

  /** Binds elements [start, start + count) of a buffer, the offset rounded down to the binding alignment. */
  private bind(buf: GPUBuffer, start: number, count: number): Bound {
    const { base, size } = alignedRange(start, Math.max(count, 1), this.limits.alignElems);
    return { binding: { buffer: buf, offset: base * 8, size: size * 8 }, base };
  }

  private dispatch(
    pass: GPUComputePassEncoder,
    name: KernelName,
    params: readonly number[],
    io: { a?: Bound; b?: Bound; out: Bound },
    groups: readonly [number, number, number],
  ): void {
    const spec: KernelSpec = KERNELS[name];
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniform(name, params) } }];
    if (io.a) entries.push({ binding: 1, resource: io.a.binding });
    if (io.b) entries.push({ binding: 2, resource: io.b.binding });
    entries.push({ binding: 3, resource: io.out.binding });
    const group = this.device.createBindGroup({ label: name, layout: this.pipes.layouts[spec.layout], entries });
    pass.setPipeline(this.pipes.pipelines.get(name)!);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
  }

  /** Grid for one invocation per item of a 1-D kernel. */
  private grid(name: KernelName, items: number): [number, number, number] {
    const [x, y] = grid2d(Math.ceil(items / KERNELS[name].workgroup), this.maxGroups);
    return [x, y, 1];
  }

  /** Output chunk length for kernels that write whole aligned pieces, with an input need per piece. */
  private outputChunk(op: string, inputSpan: (chunk: number) => number): number {
    const align = this.limits.alignElems;
    const q = largest(Math.floor(this.limits.maxElems / align), (c) => fits(c * align, this.limits) && fits(inputSpan(c * align), this.limits));
    if (q === 0) throw new Error(`webgpu ${op}: operands do not fit one storage binding of ${this.limits.maxElems} elements`);
    return q * align;
  }

  private wholeInputFits(op: string, n: number): void {
    if (!fits(n, this.limits)) throw new Error(`webgpu ${op}: input of ${n} elements does not fit one storage binding of ${this.limits.maxElems} elements`);
  }

  // ---- transfers -----------------------------------------------------------------------------------------

  upload(data: BigUint64Array): Buf {
    return this.scoped('upload', () => {
      const out = this.alloc('upload', data.length);
      if (data.length > 0) this.device.queue.writeBuffer(out.gpu!, 0, data.buffer, data.byteOffset, data.byteLength);
      return out;
    });
  }

  async read(a: Buf): Promise<BigUint64Array> {
    const src = this.gpuOf('read', a);
    const bytes = a.length * 8;
    let staging: GPUBuffer | null = null;
    if (bytes > 0) {
      const size = sizeClass(bytes);
      staging = this.freeStaging.get(size)?.pop() ?? null;
      this.kernel('read', (enc) => {
        staging ??= this.device.createBuffer({ label: 'staging', size, usage: BUFFER_MAP_READ | BUFFER_COPY_DST });
        enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
      });
    } else {
      this.usable('read');
    }
    this.submit();
    const mapped = staging?.mapAsync(MAP_MODE_READ, 0, bytes);
    // Observe a mapping failure now; it is reported below, after any kernel error that explains it.
    const mapError = mapped?.then(
      () => null,
      (e: unknown) => e as Error,
    );
    await this.settle();
    const err = await mapError;
    if (err) {
      staging?.destroy();
      this.usable('read');
      throw new Error(`webgpu read: mapping the staging buffer failed: ${err.message}`);
    }
    if (!staging) return new BigUint64Array(0);
    const out = new BigUint64Array(staging.getMappedRange(0, bytes).slice(0));
    staging.unmap();
    const list = this.freeStaging.get(staging.size);
    if (list) {
      if (list.length < 4) list.push(staging);
      else staging.destroy();
    } else this.freeStaging.set(staging.size, [staging]);
    return out;
  }

  /** Waits for every recorded kernel's error scopes and throws the first failure. */
  private async settle(): Promise<void> {
    const checks = this.checks;
    this.checks = [];
    await Promise.all(checks);
    if (this.lost) this.usable('read');
    if (this.failure) throw new Error(this.failure.message);
  }

  zeros(n: number): Buf {
    checkCount('zeros', 'n', n);
    return this.kernel('zeros', (enc) => {
      const out = this.alloc('zeros', n);
      if (n > 0) enc.clearBuffer(out.gpu!, 0, n * 8);
      return out;
    });
  }

  release(a: Buf): void {
    if (!(a instanceof GpuBuf) || a.owner !== this) throw new Error('webgpu release: buffer does not belong to this backend');
    if (!a.gpu) return;
    this.retiring.push(a.gpu);
    a.gpu = null;
  }

  // ---- elementwise -----------------------------------------------------------------------------------------

  /** One invocation per element over aligned pieces, binding the same range of every operand. */
  private elementwise(op: KernelName, inputs: Buf[], k = 0, s: [number, number] = [0, 0]): Buf {
    const srcs = inputs.map((x) => this.gpuOf(op, x));
    const n = inputs[0].length;
    return this.kernel(op, (enc) => {
      const out = this.alloc(op, n);
      if (n === 0) return out;
      const pass = enc.beginComputePass({ label: op });
      for (const [start, count] of pieces(n, alignedChunk(this.limits))) {
        this.dispatch(
          pass,
          op,
          [count, k, s[0], s[1]],
          {
            a: this.bind(srcs[0], start, count),
            b: srcs.length > 1 ? this.bind(srcs[1], start, count) : undefined,
            out: this.bind(out.gpu!, start, count),
          },
          this.grid(op, count),
        );
      }
      pass.end();
      return out;
    });
  }

  private binary(op: KernelName, a: Buf, b: Buf): Buf {
    this.same(op, a, b);
    return this.elementwise(op, [a, b]);
  }

  add(a: Buf, b: Buf): Buf {
    return this.binary('add', a, b);
  }
  sub(a: Buf, b: Buf): Buf {
    return this.binary('sub', a, b);
  }
  mul(a: Buf, b: Buf): Buf {
    return this.binary('mul', a, b);
  }
  and(a: Buf, b: Buf): Buf {
    return this.binary('and', a, b);
  }
  or(a: Buf, b: Buf): Buf {
    return this.binary('or', a, b);
  }
  xor(a: Buf, b: Buf): Buf {
    return this.binary('xor', a, b);
  }
  neg(a: Buf): Buf {
    return this.elementwise('neg', [a]);
  }
  not(a: Buf): Buf {
    return this.elementwise('not', [a]);
  }
  addScalar(a: Buf, s: bigint): Buf {
    return this.elementwise('addScalar', [a], 0, u64Words(s));
  }
  mulScalar(a: Buf, s: bigint): Buf {
    return this.elementwise('mulScalar', [a], 0, u64Words(s));
  }
  shl(a: Buf, k: number): Buf {
    checkShift(k);
    return this.elementwise('shl', [a], k);
  }
  shrLogical(a: Buf, k: number): Buf {
    checkShift(k);
    return this.elementwise('shrLogical', [a], k);
  }
  shrArith(a: Buf, k: number): Buf {
    checkShift(k);
    return this.elementwise('shrArith', [a], k);
  }

  // ---- bit planes ------------------------------------------------------------------------------------------

  toBitPlanes(a: Buf): Buf {
    const src = this.gpuOf('toBitPlanes', a);
    const n = a.length;
    const w = Math.ceil(n / 64);
    this.wholeInputFits('toBitPlanes', 64 * w);
    return this.kernel('toBitPlanes', (enc) => {
      const out = this.alloc('toBitPlanes', 64 * w);
      if (n === 0) return out;
      const pass = enc.beginComputePass({ label: 'toBitPlanes' });
      const [x, y] = grid2d(w, this.maxGroups);
      this.dispatch(pass, 'toBitPlanes', [n, w, 64, 0], { a: this.bind(src, 0, n), out: this.bind(out.gpu!, 0, 64 * w) }, [x, y, 1]);
      pass.end();
      return out;
    });
  }

  fromBitPlanes(planes: Buf, n: number, planeCount: number): Buf {
    const src = this.gpuOf('fromBitPlanes', planes);
    checkCount('fromBitPlanes', 'n', n);
    if (!Number.isInteger(planeCount) || planeCount < 0 || planeCount > 64) throw new Error(`fromBitPlanes: plane count ${planeCount} out of range [0, 64]`);
    const w = Math.ceil(n / 64);
    if (planes.length < planeCount * w) throw new Error(`fromBitPlanes: ${planeCount} planes of ${w} words need ${planeCount * w}, got ${planes.length}`);
    this.wholeInputFits('fromBitPlanes', Math.max(n, planeCount * w));
    return this.kernel('fromBitPlanes', (enc) => {
      const out = this.alloc('fromBitPlanes', n);
      if (n === 0) return out;
      const pass = enc.beginComputePass({ label: 'fromBitPlanes' });
      const [x, y] = grid2d(w, this.maxGroups);
      this.dispatch(pass, 'fromBitPlanes', [n, w, planeCount, 0], { a: this.bind(src, 0, planeCount * w), out: this.bind(out.gpu!, 0, n) }, [x, y, 1]);
      pass.end();
      return out;
    });
  }

  // ---- matmul, reductions ----------------------------------------------------------------------------------

  matmul(a: Buf, b: Buf, dims: MatmulDims): Buf {
    const srcA = this.gpuOf('matmul', a);
    const srcB = this.gpuOf('matmul', b);
    const { m, k, n } = dims;
    const batch = dims.batch ?? 1;
    for (const [what, v] of [['m', m], ['k', k], ['n', n], ['batch', batch]] as const) checkCount('matmul', what, v);
    const bBatch = dims.broadcastB ? 1 : batch;
    if (a.length !== batch * m * k) throw new Error(`matmul: a has ${a.length} elements, expected ${batch}x${m}x${k}`);
    if (b.length !== bBatch * k * n) throw new Error(`matmul: b has ${b.length} elements, expected ${bBatch}x${k}x${n}`);
    const total = batch * m * n;
    if (total === 0) return this.zeros(0);
    if (k === 0) return this.zeros(total);
    const s = matmulStrides(m, k, n, Boolean(dims.transA), Boolean(dims.transB), Boolean(dims.broadcastB));
    const plan = planMatmul(batch, m, k, n, s, this.limits, this.maxGroups);
    return this.kernel('matmul', (enc) => {
      const out = this.alloc('matmul', total);
      const pass = enc.beginComputePass({ label: 'matmul' });
      for (const { t0, bz, i0, mc } of plan) {
        const aStart = t0 * s.aBs + i0 * s.aRs;
        const bStart = t0 * s.bBs;
        const cStart = t0 * s.cBs + i0 * n;
        const A = this.bind(srcA, aStart, (bz - 1) * s.aBs + (mc - 1) * s.aRs + (k - 1) * s.aPs + 1);
        const B = this.bind(srcB, bStart, (bz - 1) * s.bBs + (k - 1) * s.bPs + (n - 1) * s.bCs + 1);
        const C = this.bind(out.gpu!, cStart, (bz - 1) * s.cBs + mc * n);
        const params = [
          mc, k, n, 0,
          aStart - A.base, s.aBs, s.aRs, s.aPs,
          bStart - B.base, s.bBs, s.bPs, s.bCs,
          cStart - C.base, s.cBs, 0, 0,
        ];
        this.dispatch(pass, 'matmul', params, { a: A, b: B, out: C }, [Math.ceil(n / MATMUL_TILE), Math.ceil(mc / MATMUL_TILE), bz]);
      }
      pass.end();
      return out;
    });
  }

  sumRows(a: Buf, rows: number, cols: number): Buf {
    const src = this.gpuOf('sumRows', a);
    checkCount('sumRows', 'rows', rows);
    checkCount('sumRows', 'cols', cols);
    if (a.length !== rows * cols) throw new Error(`sumRows: ${a.length} elements is not ${rows}x${cols}`);
    if (rows === 0) return this.zeros(0);
    if (cols === 0) return this.zeros(rows);
    const plan = planRows('webgpu sumRows', rows, (rc) => [rc * cols, rc], this.limits, this.maxGroups * this.maxGroups);
    return this.kernel('sumRows', (enc) => {
      const out = this.alloc('sumRows', rows);
      const pass = enc.beginComputePass({ label: 'sumRows' });
      for (const [r0, rc] of plan) {
        const A = this.bind(src, r0 * cols, rc * cols);
        const O = this.bind(out.gpu!, r0, rc);
        const [x, y] = grid2d(rc, this.maxGroups);
        this.dispatch(pass, 'sumRows', [rc, cols, r0 * cols - A.base, r0 - O.base], { a: A, out: O }, [x, y, 1]);
      }
      pass.end();
      return out;
    });
  }

  // ---- data movement ---------------------------------------------------------------------------------------

  /**
   * Copies a rows x cols block from `src` (rows inStride long, starting at column inCol) to `dst` (rows
   * outStride long, starting at column outCol), split over rows so every piece fits its bindings.
   */
  private copyBlock(pass: GPUComputePassEncoder, op: string, src: GPUBuffer, dst: GPUBuffer, rows: number, cols: number, inStride: number, inCol: number, outStride: number, outCol: number): void {
    if (rows === 0 || cols === 0) return;
    const span = (stride: number) => (rc: number) => (rc - 1) * stride + cols;
    const plan = planRows(`webgpu ${op}`, rows, (rc) => [span(inStride)(rc), span(outStride)(rc)], this.limits);
    for (const [r0, rc] of plan) {
      const inStart = r0 * inStride + inCol;
      const outStart = r0 * outStride + outCol;
      const A = this.bind(src, inStart, span(inStride)(rc));
      const O = this.bind(dst, outStart, span(outStride)(rc));
      const params = [rc * cols, 0, 0, cols, inStride, outStride, inStart - A.base, outStart - O.base];
      this.dispatch(pass, 'copy2d', params, { a: A, out: O }, this.grid('copy2d', rc * cols));
    }
  }

  sliceCols(a: Buf, rows: number, cols: number, start: number, count: number): Buf {
    const src = this.gpuOf('sliceCols', a);
    for (const [what, v] of [['rows', rows], ['cols', cols], ['start', start], ['count', count]] as const) checkCount('sliceCols', what, v);
    if (a.length !== rows * cols || start + count > cols) throw new Error(`sliceCols: bad range [${start}, ${start + count}) of ${rows}x${cols}`);
    return this.kernel('sliceCols', (enc) => {
      const out = this.alloc('sliceCols', rows * count);
      const pass = enc.beginComputePass({ label: 'sliceCols' });
      this.copyBlock(pass, 'sliceCols', src, out.gpu!, rows, count, cols, start, count, 0);
      pass.end();
      return out;
    });
  }

  concatCols(a: Buf, ca: number, b: Buf, cb: number, rows: number): Buf {
    const srcA = this.gpuOf('concatCols', a);
    const srcB = this.gpuOf('concatCols', b);
    for (const [what, v] of [['ca', ca], ['cb', cb], ['rows', rows]] as const) checkCount('concatCols', what, v);
    if (a.length !== rows * ca || b.length !== rows * cb) throw new Error('concatCols: shapes do not match');
    return this.kernel('concatCols', (enc) => {
      const out = this.alloc('concatCols', rows * (ca + cb));
      const pass = enc.beginComputePass({ label: 'concatCols' });
      this.copyBlock(pass, 'concatCols', srcA, out.gpu!, rows, ca, ca, 0, ca + cb, 0);
      this.copyBlock(pass, 'concatCols', srcB, out.gpu!, rows, cb, cb, 0, ca + cb, ca);
      pass.end();
      return out;
    });
  }

  slice(a: Buf, start: number, count: number): Buf {
    const src = this.gpuOf('slice', a);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > a.length) {
      throw new Error(`slice: [${start}, ${start + count}) out of ${a.length}`);
    }
    return this.kernel('slice', (enc) => {
      const out = this.alloc('slice', count);
      if (count > 0) enc.copyBufferToBuffer(src, start * 8, out.gpu!, 0, count * 8);
      return out;
    });
  }

  concat(parts: Buf[]): Buf {
    const srcs = parts.map((p) => this.gpuOf('concat', p));
    const total = parts.reduce((s, p) => s + p.length, 0);
    return this.kernel('concat', (enc) => {
      const out = this.alloc('concat', total);
      let o = 0;
      parts.forEach((p, i) => {
        if (p.length > 0) enc.copyBufferToBuffer(srcs[i], 0, out.gpu!, o * 8, p.length * 8);
        o += p.length;
      });
      return out;
    });
  }

  repeatEach(a: Buf, times: number): Buf {
    const src = this.gpuOf('repeatEach', a);
    checkCount('repeatEach', 'times', times);
    const total = a.length * times;
    if (total === 0) return this.zeros(0);
    const chunk = this.outputChunk('repeatEach', (c) => Math.floor(c / times) + 2);
    return this.kernel('repeatEach', (enc) => {
      const out = this.alloc('repeatEach', total);
      const pass = enc.beginComputePass({ label: 'repeatEach' });
      for (const [o0, count] of pieces(total, chunk)) {
        const first = Math.floor(o0 / times);
        const A = this.bind(src, first, Math.floor((o0 + count - 1) / times) - first + 1);
        const params = [count, o0, A.base, times, 0, 0, 0, 0];
        this.dispatch(pass, 'repeatEach', params, { a: A, out: this.bind(out.gpu!, o0, count) }, this.grid('repeatEach', count));
      }
      pass.end();
      return out;
    });
  }

  tile(a: Buf, times: number): Buf {
    const src = this.gpuOf('tile', a);
    checkCount('tile', 'times', times);
    const n = a.length;
    const total = n * times;
    if (total === 0) return this.zeros(0);
    this.wholeInputFits('tile', n);
    return this.kernel('tile', (enc) => {
      const out = this.alloc('tile', total);
      const pass = enc.beginComputePass({ label: 'tile' });
      const A = this.bind(src, 0, n);
      for (const [o0, count] of pieces(total, alignedChunk(this.limits))) {
        const params = [count, o0, 0, n, 0, 0, 0, 0];
        this.dispatch(pass, 'tile', params, { a: A, out: this.bind(out.gpu!, o0, count) }, this.grid('tile', count));
      }
      pass.end();
      return out;
    });
  }

  transpose(a: Buf, shape: readonly number[], perm: readonly number[]): Buf {
    const src = this.gpuOf('transpose', a);
    const rank = shape.length;
    if (perm.length !== rank || [...perm].sort().some((p, i) => p !== i)) throw new Error(`transpose: bad permutation [${perm.join(', ')}]`);
    const n = shape.reduce((s, v) => s * v, 1);
    if (n !== a.length) throw new Error(`transpose: shape [${shape.join(', ')}] does not hold ${a.length} elements`);
    if (n === 0) return this.zeros(0);
    const inStride = new Array<number>(rank);
    let st = 1;
    for (let i = rank - 1; i >= 0; i--) {
      inStride[i] = st;
      st *= shape[i];
    }
    // Output axes in order, each with its extent and the input stride it walks. Unit axes are dropped and
    // runs of output axes that are consecutive input axes merge into one, which keeps the rank small.
    const ext: number[] = [];
    const str: number[] = [];
    let prevIn = -2;
    for (const p of perm) {
      if (shape[p] === 1) continue;
      if (p === prevIn + 1 && ext.length > 0) {
        ext[ext.length - 1] *= shape[p];
        str[str.length - 1] = inStride[p];
      } else {
        ext.push(shape[p]);
        str.push(inStride[p]);
      }
      prevIn = p;
    }
    if (ext.length > MAX_TRANSPOSE_RANK) throw new Error(`webgpu transpose: ${ext.length} axes after merging, at most ${MAX_TRANSPOSE_RANK} supported`);
    this.wholeInputFits('transpose', n);
    return this.kernel('transpose', (enc) => {
      const out = this.alloc('transpose', n);
      const pass = enc.beginComputePass({ label: 'transpose' });
      const A = this.bind(src, 0, n);
      const pad = (xs: number[]) => [...xs, ...new Array<number>(MAX_TRANSPOSE_RANK - xs.length).fill(0)];
      const axes = [ext.length, ...pad(ext), ...pad(str)];
      for (const [o0, count] of pieces(n, alignedChunk(this.limits))) {
        const params = [count, o0, 0, ...axes];
        this.dispatch(pass, 'transpose', params, { a: A, out: this.bind(out.gpu!, o0, count) }, this.grid('transpose', count));
      }
      pass.end();
      return out;
    });
  }

  // ---- randomness ------------------------------------------------------------------------------------------

  prg(key: Uint32Array, nonce: Uint32Array, n: number, counter = 0): Buf {
    checkKeyNonce(key, nonce);
    checkCount('prg', 'n', n);
    if (!Number.isInteger(counter) || counter < 0 || counter >= 2 ** 32) throw new Error(`prg: block counter ${counter} out of range [0, 2^32)`);
    const blocks = Math.ceil(n / 8);
    if (counter + blocks > 2 ** 32) throw new Error(`ChaCha20 block counter would overflow (${blocks} blocks from ${counter})`);
    return this.kernel('prg', (enc) => {
      const out = this.alloc('prg', n);
      if (n === 0) return out;
      const pass = enc.beginComputePass({ label: 'prg' });
      // Pieces start on block boundaries (8 words), so each piece's first block is counter + start / 8.
      for (const [start, count] of pieces(n, alignedChunk(this.limits, 8))) {
        const params = [...key, ...nonce, 0, counter + start / 8, count, 0, 0];
        this.dispatch(pass, 'prg', params, { out: this.bind(out.gpu!, start, count) }, this.grid('prg', Math.ceil(count / 8)));
      }
      pass.end();
      return out;
    });
  }
}

/**
 * Creates the WebGPU backend: requests an adapter and a device with the adapter's largest buffer limits
 * (unless a device is given) and builds every pipeline. Rejects with a clear Error when WebGPU is missing,
 * no adapter is found, or a shader fails to compile.
 */
export async function createWebGpuBackend(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  let device = opts.device;
  let info: GPUAdapterInfo | undefined;
  let fallback = false;
  if (device) {
    info = device.adapterInfo;
    fallback = fallbackOf(info);
  } else {
    const gpu = opts.gpu ?? globalThis.navigator?.gpu;
    if (!gpu) throw new Error('webgpu: WebGPU is not available here (no navigator.gpu and no GPU object given)');
    const adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
    if (!adapter) throw new Error('webgpu: no WebGPU adapter available');
    info = adapter.info;
    fallback = fallbackOf(info, adapter);
    try {
      device = await adapter.requestDevice({
        label: 'puma-web backend',
        requiredLimits: {
          maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
          maxBufferSize: adapter.limits.maxBufferSize,
        },
      });
    } catch (e) {
      throw new Error(`webgpu: requesting a device from ${describe(info, fallback)} failed: ${(e as Error).message}`);
    }
  }
  let pipes: Pipelines;
  try {
    pipes = await pipelinesFor(device);
  } catch (e) {
    if (!opts.device) device.destroy();
    throw e;
  }
  return new WebGpuBackend(device, pipes, describe(info, fallback), fallback, !opts.device, opts);
}

/**
 * Whether WebGPU can run here and on what: callers pick WebGPU on a real adapter and WebAssembly on a
 * fallback (software) adapter or none. Never throws.
 */
export async function probeWebGpu(gpu?: GPU): Promise<WebGpuProbe> {
  const g = gpu ?? globalThis.navigator?.gpu;
  if (!g) return { available: false, isFallbackAdapter: false, description: 'WebGPU not available (no navigator.gpu)' };
  try {
    const adapter = await g.requestAdapter();
    if (!adapter) return { available: false, isFallbackAdapter: false, description: 'WebGPU: no adapter' };
    const fallback = fallbackOf(adapter.info, adapter);
    return { available: true, isFallbackAdapter: fallback, description: describe(adapter.info, fallback) };
  } catch (e) {
    return { available: false, isFallbackAdapter: false, description: `WebGPU: adapter request failed: ${(e as Error).message}` };
  }
}
