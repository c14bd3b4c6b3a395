/**
 * Backend selection (DESIGN.md): 'auto' takes WebGPU on a real GPU adapter and WebAssembly on a fallback
 * (software) adapter or none; 'wasm' and 'webgpu' force one.
 */
import type { Backend } from '@puma/backend';
import { createWasmBackend } from '@puma/backend-wasm';

export type BackendChoice = 'wasm' | 'webgpu' | 'auto';

export function parseBackendChoice(s: string | null | undefined): BackendChoice {
  const v = (s ?? 'auto').toLowerCase();
  if (v === 'wasm' || v === 'webgpu' || v === 'auto') return v;
  throw new Error(`unknown backend "${s}"; choose wasm, webgpu or auto`);
}

export async function createBackend(choice: BackendChoice, gpu?: GPU): Promise<Backend> {
  if (choice === 'wasm') return createWasmBackend();
  const webgpu = await import('@puma/backend-webgpu');
  if (choice === 'webgpu') return webgpu.createWebGpuBackend({ gpu });
  const probe = await webgpu.probeWebGpu(gpu);
  return probe.available && !probe.isFallbackAdapter ? webgpu.createWebGpuBackend({ gpu }) : createWasmBackend();
}
