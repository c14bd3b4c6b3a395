/// <reference types="@webgpu/types" />
/**
 * WebGPU in Node through Dawn (the `webgpu` npm package). Kept apart from index.ts so browser bundles never
 * import the native module.
 *
 * Dawn needs a Vulkan driver. On machines without one, SwiftShader from Debian's chromium package works, but
 * the dynamic loader reads LD_LIBRARY_PATH only at process start, so both variables must be set in the
 * environment that starts Node:
 *   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium
 */
import { create } from 'webgpu';
import { SWIFTSHADER_ENV } from './dawn-process.ts';
import { createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from './index.ts';

let instance: GPU | null = null;

/** The process-wide Dawn GPU object. `flags` are Dawn's create() options and apply to the first call only. */
export function nodeGpu(flags: string[] = []): GPU {
  instance ??= create(flags);
  return instance;
}

/** createWebGpuBackend on Dawn, with a hint about the Vulkan environment when no adapter is found. */
export async function createNodeWebGpuBackend(opts: Omit<WebGpuBackendOptions, 'gpu'> = {}): Promise<WebGpuBackend> {
  try {
    return await createWebGpuBackend({ ...opts, gpu: nodeGpu() });
  } catch (e) {
    const msg = (e as Error).message;
    if (!/no WebGPU adapter/.test(msg)) throw e;
    throw new Error(
      `${msg} from Dawn. Without a system Vulkan driver, start node with ` +
        Object.entries(SWIFTSHADER_ENV)
          .map(([k, v]) => `${k}=${v}`)
          .join(' '),
    );
  }
}
