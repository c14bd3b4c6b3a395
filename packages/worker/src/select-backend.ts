/// <reference types="@webgpu/types" />
/**
 * Backend selection (DESIGN.md): 'auto' takes WebGPU on a real GPU adapter and WebAssembly on a fallback
 * (software) adapter or none; 'wasm' and 'webgpu' force one. `gpu` is navigator.gpu in browsers, or Dawn's
 * GPU object in Node (packages/backend-webgpu/src/node.ts).
 */
import type { Backend } from '@puma/backend';
import { createWasmBackend } from '@puma/backend-wasm';
import { createWebGpuBackend, probeWebGpu } from '@puma/backend-webgpu';

export type BackendChoice = 'wasm' | 'webgpu' | 'auto';

export function parseBackendChoice(s: string | null | undefined): BackendChoice {
  const v = (s ?? 'auto').toLowerCase();
  if (v === 'wasm' || v === 'webgpu' || v === 'auto') return v;
  throw new Error(`unknown backend "${s}"; choose wasm, webgpu or auto`);
}

export async function createBackend(choice: BackendChoice, gpu?: GPU): Promise<Backend> {
  if (choice === 'wasm') return createWasmBackend();
  if (choice === 'webgpu') return createWebGpuBackend({ gpu });
  const probe = await probeWebGpu(gpu);
  return probe.available && !probe.isFallbackAdapter ? createWebGpuBackend({ gpu }) : createWasmBackend();
}
