/**
 * Runs every WebGPU check through Dawn in this Node process and prints one JSON report on stdout. It is a
 * separate process (started by webgpu.node.test.ts, or by hand with the environment from node.ts) because
 * Dawn's Vulkan loader must see LD_LIBRARY_PATH from process start.
 *
 *   VK_ICD_FILENAMES=... LD_LIBRARY_PATH=... node --import tsx packages/backend-webgpu/src/dawn-runner.ts
 */
import { conformanceCases } from '@puma/backend/conformance';
import { createNodeWebGpuBackend } from './node.ts';
import { deviceLossCase, edgeCases, errorCases, rfcCases, runCases, splitCases, SPLIT_OPTIONS } from './selftest.ts';

async function main(): Promise<void> {
  const be = await createNodeWebGpuBackend();
  const results = await runCases(be, [...conformanceCases(), ...rfcCases(), ...edgeCases()]);
  // Same device, so the second backend reuses the compiled pipelines instead of building them again.
  const small = await createNodeWebGpuBackend({ device: be.device, ...SPLIT_OPTIONS });
  results.push(...(await runCases(small, splitCases())));
  small.destroy();
  results.push(...(await runCases(be, [...errorCases(), deviceLossCase()])));
  process.stdout.write(`${JSON.stringify({ description: be.description, isFallbackAdapter: be.isFallbackAdapter, results })}\n`);
}

main().then(
  // Dawn keeps handles that hold the event loop open; the report is written, so leave now.
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
