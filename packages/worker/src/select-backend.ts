/**
 * Backend selection (DESIGN.md): 'auto' takes WebGPU on a real GPU adapter and WebAssembly otherwise; 'wasm'
 * and 'webgpu' force one. The WebGPU backend is not part of this build yet, so 'auto' resolves to
 * WebAssembly and 'webgpu' fails with a clear message.
 */
import type { Backend } from '@puma/backend';
import { createWasmBackend } from '@puma/backend-wasm';

export type BackendChoice = 'wasm' | 'webgpu' | 'auto';

export function parseBackendChoice(s: string | null | undefined): BackendChoice {
  const v = (s ?? 'auto').toLowerCase();
  if (v === 'wasm' || v === 'webgpu' || v === 'auto') return v;
  throw new Error(`unknown backend "${s}"; choose wasm, webgpu or auto`);
}

export async function createBackend(choice: BackendChoice): Promise<Backend> {
  if (choice === 'webgpu') throw new Error('the WebGPU backend is not available in this build; use --backend wasm or auto');
  return createWasmBackend();
}
