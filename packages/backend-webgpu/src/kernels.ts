/// <reference types="@webgpu/types" />
/**
 * The compute pipelines the backend builds: which WGSL file and entry point, which bind group layout, and
 * the workgroup size. Every kernel file is compiled with shaders/ring.wgsl prepended. Pipelines are built
 * once per device, up front and asynchronously, and shared by every backend on that device.
 */
import { shaders } from './shaders.generated.ts';

const STAGE_COMPUTE = 0x0004;

/**
 * Bind group shapes. Binding 0 is the kernel's uniform parameters, 1 and 2 are read-only inputs, 3 is the
 * output; kernels without a second input (or without inputs) leave those slots out.
 */
export type LayoutKind = 'binary' | 'unary' | 'fill';

export interface KernelSpec {
  module: Exclude<keyof typeof shaders, 'ring'>;
  entry: string;
  layout: LayoutKind;
  /** Invocations per workgroup along x (the kernel's flat size for 1-D kernels). */
  workgroup: number;
  /** Whether the entry point's workgroup size is the WGSL override `WG` (set at pipeline creation). */
  override: boolean;
}

const ew = (entry: string, layout: LayoutKind): KernelSpec => ({ module: 'elementwise', entry, layout, workgroup: 256, override: true });

export const KERNELS = {
  add: ew('add', 'binary'),
  sub: ew('sub', 'binary'),
  mul: ew('mul', 'binary'),
  and: ew('bit_and', 'binary'),
  or: ew('bit_or', 'binary'),
  xor: ew('bit_xor', 'binary'),
  neg: ew('neg', 'unary'),
  not: ew('bit_not', 'unary'),
  addScalar: ew('add_scalar', 'unary'),
  mulScalar: ew('mul_scalar', 'unary'),
  shl: ew('shl', 'unary'),
  shrLogical: ew('shr_logical', 'unary'),
  shrArith: ew('shr_arith', 'unary'),
  toBitPlanes: { module: 'bitplanes', entry: 'to_bit_planes', layout: 'unary', workgroup: 64, override: false },
  fromBitPlanes: { module: 'bitplanes', entry: 'from_bit_planes', layout: 'unary', workgroup: 64, override: false },
  matmul: { module: 'matmul', entry: 'matmul', layout: 'binary', workgroup: 256, override: false },
  sumRows: { module: 'reduce', entry: 'sum_rows', layout: 'unary', workgroup: 64, override: false },
  copy2d: { module: 'copy', entry: 'copy_2d', layout: 'unary', workgroup: 256, override: true },
  repeatEach: { module: 'copy', entry: 'repeat_each', layout: 'unary', workgroup: 256, override: true },
  tile: { module: 'copy', entry: 'tile_vec', layout: 'unary', workgroup: 256, override: true },
  transpose: { module: 'copy', entry: 'transpose_nd', layout: 'unary', workgroup: 256, override: true },
  prg: { module: 'prg', entry: 'chacha20', layout: 'fill', workgroup: 64, override: true },
} satisfies Record<string, KernelSpec>;

export type KernelName = keyof typeof KERNELS;

export function shaderSource(module: KernelSpec['module']): string {
  return `${shaders.ring}\n${shaders[module]}`;
}

export interface Pipelines {
  layouts: Record<LayoutKind, GPUBindGroupLayout>;
  pipelines: Map<KernelName, GPUComputePipeline>;
}

const cache = new WeakMap<GPUDevice, Promise<Pipelines>>();

/** Every kernel's pipeline on `device`, built on first request. Rejects naming the kernel that failed. */
export function pipelinesFor(device: GPUDevice): Promise<Pipelines> {
  let p = cache.get(device);
  if (!p) {
    p = build(device);
    cache.set(device, p);
    // A failed build is not cached, so a later attempt reports the error again rather than a stale promise.
    p.catch(() => cache.delete(device));
  }
  return p;
}

/** Throws an Error naming the shader file, the kernels built from it and each compiler error, if any. */
export async function checkCompiled(sm: GPUShaderModule, mod: KernelSpec['module']): Promise<void> {
  const errors = (await sm.getCompilationInfo()).messages.filter((m) => m.type === 'error');
  if (errors.length === 0) return;
  const users = (Object.keys(KERNELS) as KernelName[]).filter((n) => KERNELS[n].module === mod).join(', ');
  const text = errors.map((m) => `line ${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
  throw new Error(`webgpu: shaders/${mod}.wgsl (kernels ${users}) failed to compile: ${text}`);
}

async function build(d: GPUDevice): Promise<Pipelines> {
  const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: STAGE_COMPUTE, buffer: { type } });
  const uni = entry(0, 'uniform');
  const out = entry(3, 'storage');
  const layouts: Record<LayoutKind, GPUBindGroupLayout> = {
    binary: d.createBindGroupLayout({ label: 'binary', entries: [uni, entry(1, 'read-only-storage'), entry(2, 'read-only-storage'), out] }),
    unary: d.createBindGroupLayout({ label: 'unary', entries: [uni, entry(1, 'read-only-storage'), out] }),
    fill: d.createBindGroupLayout({ label: 'fill', entries: [uni, out] }),
  };
  const names = Object.keys(KERNELS) as KernelName[];
  const modules = new Map<KernelSpec['module'], GPUShaderModule>();
  for (const name of names) {
    const mod = KERNELS[name].module;
    if (!modules.has(mod)) modules.set(mod, d.createShaderModule({ label: `${mod}.wgsl`, code: shaderSource(mod) }));
  }
  for (const [mod, sm] of modules) await checkCompiled(sm, mod);
  const pipelines = new Map<KernelName, GPUComputePipeline>();
  await Promise.all(
    names.map(async (name) => {
      const spec: KernelSpec = KERNELS[name];
      try {
        const pipeline = await d.createComputePipelineAsync({
          label: name,
          layout: d.createPipelineLayout({ bindGroupLayouts: [layouts[spec.layout]] }),
          compute: { module: modules.get(spec.module)!, entryPoint: spec.entry, constants: spec.override ? { WG: spec.workgroup } : {} },
        });
        pipelines.set(name, pipeline);
      } catch (e) {
        throw new Error(`webgpu: pipeline for kernel ${name} (shaders/${spec.module}.wgsl, entry ${spec.entry}) failed: ${(e as Error).message}`);
      }
    }),
  );
  return { layouts, pipelines };
}
