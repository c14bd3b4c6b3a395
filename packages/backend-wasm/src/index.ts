/**
 * Entry of @puma/backend-wasm, the WebAssembly implementation of the Backend interface: the CPU fast path.
 * The backend is in ./backend.ts, its buffers' lifecycle in ./resident-buffers.ts, the compiled kernels in
 * ./kernels.ts; this file only names what the package offers.
 */
export { createWasmBackend, type WasmBackend, type WasmBackendStats } from './backend.ts';
export { kernelsModule } from './kernels.ts';
export { matmulRate } from './rate.ts';
export { createDealerSplitter, type DealerSplitter } from './dealer-split.ts';
/** The compiled kernels, for callers that key cached measurements by kernel version (worker/calibrate-cache.ts). */
export { KERNELS_WASM_BASE64 } from './kernels.wasm.generated.ts';
