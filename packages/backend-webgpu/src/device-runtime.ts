/// <reference types="@webgpu/types" />
/**
 * The device side of the WebGPU backend: storage buffers and their pools, uniform blocks, bindings and
 * dispatches, command recording with batched submission, transfers, and the error scopes that decide whether
 * the backend can still be trusted (see index.ts). The kernels (compute.ts, movement.ts) record through it.
 */
import type { Buf } from '@puma/backend';
import { KERNELS, type KernelName, type KernelSpec, type Pipelines } from './kernels.ts';
import { alignedRange, fits, grid2d, largest, type BindingLimits } from './split.ts';

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

export interface DeviceRuntimeOptions {
  /** Treat storage bindings as at most this many bytes, to exercise the splitting paths on small tensors. */
  maxBindingBytes?: number;
  /** Treat grids as at most this many workgroups per dimension, to exercise 2-D dispatch on small tensors. */
  maxWorkgroupsPerDimension?: number;
  /** Bytes of released buffers kept for reuse; the rest are destroyed. Default 256 MiB. */
  poolBytes?: number;
}

class GpuBuf implements Buf {
  constructor(
    readonly length: number,
    public gpu: GPUBuffer | null,
    readonly owner: DeviceRuntime,
  ) {}
}

/** A storage binding of part of a buffer: `base` is the index of its first u64 element in the buffer. */
export interface Bound {
  binding: GPUBufferBinding;
  base: number;
}

/** Size class of a pooled buffer: 256-byte steps up to 64 KiB, then quarter steps of a power of two. */
function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 256);
  if (b <= 65536) return Math.ceil(b / 256) * 256;
  const step = 2 ** Math.floor(Math.log2(b)) / 4;
  return Math.ceil(b / step) * step;
}

export function checkCount(op: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: ${what} must be a non-negative integer, got ${v}`);
}

export class DeviceRuntime {
  readonly device: GPUDevice;
  /** Storage binding limits and workgroups per grid dimension (the options can lower the device's). */
  readonly limits: BindingLimits;
  readonly maxGroups: number;

  private readonly ownsDevice: boolean;
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

  constructor(device: GPUDevice, pipes: Pipelines, ownsDevice: boolean, opts: DeviceRuntimeOptions) {
    this.device = device;
    this.pipes = pipes;
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
  usable(op: string): void {
    if (this.lost) throw new Error(`webgpu ${op}: GPU device lost (${this.lost.reason}): ${this.lost.message}`);
    if (this.failure) throw new Error(`webgpu ${op}: backend unusable after an earlier GPU error: ${this.failure.message}`);
  }

  gpuOf(op: string, a: Buf): GPUBuffer {
    if (!(a instanceof GpuBuf) || a.owner !== this) throw new Error(`webgpu ${op}: buffer does not belong to this backend`);
    if (!a.gpu) throw new Error(`webgpu ${op}: buffer used after release`);
    return a.gpu;
  }

  /** Runs `body` inside error scopes that attribute GPU errors to `op`. */
  scoped<T>(op: string, body: () => T): T {
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
  kernel<T>(op: string, body: (enc: GPUCommandEncoder) => T): T {
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
  alloc(op: string, n: number): GpuBuf {
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
  bind(buf: GPUBuffer, start: number, count: number): Bound {
    const { base, size } = alignedRange(start, Math.max(count, 1), this.limits.alignElems);
    return { binding: { buffer: buf, offset: base * 8, size: size * 8 }, base };
  }

  dispatch(
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
  grid(name: KernelName, items: number): [number, number, number] {
    const [x, y] = grid2d(Math.ceil(items / KERNELS[name].workgroup), this.maxGroups);
    return [x, y, 1];
  }

  /** Output chunk length for kernels that write whole aligned pieces, with an input need per piece. */
  outputChunk(op: string, inputSpan: (chunk: number) => number): number {
    const align = this.limits.alignElems;
    const q = largest(Math.floor(this.limits.maxElems / align), (c) => fits(c * align, this.limits) && fits(inputSpan(c * align), this.limits));
    if (q === 0) throw new Error(`webgpu ${op}: operands do not fit one storage binding of ${this.limits.maxElems} elements`);
    return q * align;
  }

  wholeInputFits(op: string, n: number): void {
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
}
