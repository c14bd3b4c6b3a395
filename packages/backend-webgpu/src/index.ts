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
import { zeroWords } from '@puma/ring';
import { binary, elementwise, fromBitPlanes, matmul, prg, scalarOp, shift, sumRows, toBitPlanes } from './compute.ts';
import { DeviceRuntime, type DeviceRuntimeOptions } from './device-runtime.ts';
import { pipelinesFor, type Pipelines } from './kernels.ts';
import { concat, concatCols, repeatEach, slice, sliceCols, tile, transpose } from './movement.ts';

/** The WGSL sources, for callers that key cached measurements by kernel version (worker/calibrate-cache.ts). */
export { shaders } from './shaders.generated.ts';

export interface WebGpuBackendOptions extends DeviceRuntimeOptions {
  /** The WebGPU entry point; defaults to navigator.gpu. */
  gpu?: GPU;
  /** Use this device instead of requesting one; the backend then leaves it alive on destroy(). */
  device?: GPUDevice;
  powerPreference?: GPUPowerPreference;
}

export interface WebGpuProbe {
  available: boolean;
  isFallbackAdapter: boolean;
  description: string;
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

/** The Backend interface on one device: argument checks and kernels live in compute.ts and movement.ts. */
export class WebGpuBackend implements Backend {
  readonly kind = 'webgpu';
  readonly device: GPUDevice;

  constructor(
    private readonly rt: DeviceRuntime,
    readonly description: string,
    readonly isFallbackAdapter: boolean,
  ) {
    this.device = rt.device;
  }

  /** Submits outstanding work, frees pooled buffers and, when the backend created the device, destroys it. */
  destroy(): void {
    this.rt.destroy();
  }

  upload(data: BigUint64Array): Buf {
    return this.rt.upload(data);
  }
  uploadWith(n: number, fill: (into: BigUint64Array) => void): Buf {
    const staging = zeroWords(n);
    fill(staging);
    return this.rt.upload(staging);
  }
  read(a: Buf): Promise<BigUint64Array> {
    return this.rt.read(a);
  }
  zeros(n: number): Buf {
    return this.rt.zeros(n);
  }
  release(a: Buf): void {
    this.rt.release(a);
  }

  add(a: Buf, b: Buf): Buf {
    return binary(this.rt, 'add', a, b);
  }
  sub(a: Buf, b: Buf): Buf {
    return binary(this.rt, 'sub', a, b);
  }
  mul(a: Buf, b: Buf): Buf {
    return binary(this.rt, 'mul', a, b);
  }
  and(a: Buf, b: Buf): Buf {
    return binary(this.rt, 'and', a, b);
  }
  or(a: Buf, b: Buf): Buf {
    return binary(this.rt, 'or', a, b);
  }
  xor(a: Buf, b: Buf): Buf {
    return binary(this.rt, 'xor', a, b);
  }
  neg(a: Buf): Buf {
    return elementwise(this.rt, 'neg', [a]);
  }
  not(a: Buf): Buf {
    return elementwise(this.rt, 'not', [a]);
  }
  addScalar(a: Buf, s: bigint): Buf {
    return scalarOp(this.rt, 'addScalar', a, s);
  }
  mulScalar(a: Buf, s: bigint): Buf {
    return scalarOp(this.rt, 'mulScalar', a, s);
  }
  shl(a: Buf, k: number): Buf {
    return shift(this.rt, 'shl', a, k);
  }
  shrLogical(a: Buf, k: number): Buf {
    return shift(this.rt, 'shrLogical', a, k);
  }
  shrArith(a: Buf, k: number): Buf {
    return shift(this.rt, 'shrArith', a, k);
  }

  toBitPlanes(a: Buf): Buf {
    return toBitPlanes(this.rt, a);
  }
  fromBitPlanes(planes: Buf, n: number, planeCount: number): Buf {
    return fromBitPlanes(this.rt, planes, n, planeCount);
  }
  matmul(a: Buf, b: Buf, dims: MatmulDims): Buf {
    return matmul(this.rt, a, b, dims);
  }
  sumRows(a: Buf, rows: number, cols: number): Buf {
    return sumRows(this.rt, a, rows, cols);
  }

  sliceCols(a: Buf, rows: number, cols: number, start: number, count: number): Buf {
    return sliceCols(this.rt, a, rows, cols, start, count);
  }
  concatCols(a: Buf, ca: number, b: Buf, cb: number, rows: number): Buf {
    return concatCols(this.rt, a, ca, b, cb, rows);
  }
  slice(a: Buf, start: number, count: number): Buf {
    return slice(this.rt, a, start, count);
  }
  concat(parts: Buf[]): Buf {
    return concat(this.rt, parts);
  }
  repeatEach(a: Buf, times: number): Buf {
    return repeatEach(this.rt, a, times);
  }
  tile(a: Buf, times: number): Buf {
    return tile(this.rt, a, times);
  }
  transpose(a: Buf, shape: readonly number[], perm: readonly number[]): Buf {
    return transpose(this.rt, a, shape, perm);
  }

  prg(key: Uint32Array, nonce: Uint32Array, n: number, counter = 0): Buf {
    return prg(this.rt, key, nonce, n, counter);
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
  return new WebGpuBackend(new DeviceRuntime(device, pipes, !opts.device, opts), describe(info, fallback), fallback);
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
