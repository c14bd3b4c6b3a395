/**
 * The WebGPU half of `npm run bench -- backend`: kernel timings through Dawn in this Node process, printed as
 * one JSON line (BackendBenchReport). A separate process because Dawn's Vulkan loader must see
 * LD_LIBRARY_PATH from process start (see dawn-process.ts, which starts it).
 *
 *   node --import tsx packages/backend-webgpu/src/dawn-bench.ts [--large]
 *
 * The large matmul (the throughput target on a real GPU) runs with --large or on any non-fallback adapter.
 */
import { createNodeWebGpuBackend } from './node.ts';
import { BENCH_ELEMENTWISE_N, BENCH_LARGE_MATMUL_N, BENCH_MATMUL_N, elementwiseMulTiming, matmulTiming, type BackendBenchReport } from './rate.ts';

async function main(): Promise<void> {
  const be = await createNodeWebGpuBackend();
  const info = be.device.adapterInfo;
  const report: BackendBenchReport = {
    adapter: {
      summary: be.description,
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: be.isFallbackAdapter,
    },
    results: [],
  };
  report.results.push({ kernel: 'matmul', n: BENCH_MATMUL_N, timing: await matmulTiming(be, BENCH_MATMUL_N) });
  report.results.push({ kernel: 'mul', n: BENCH_ELEMENTWISE_N, timing: await elementwiseMulTiming(be, BENCH_ELEMENTWISE_N) });
  if (process.argv.includes('--large') || !be.isFallbackAdapter) {
    report.results.push({ kernel: 'matmul', n: BENCH_LARGE_MATMUL_N, timing: await matmulTiming(be, BENCH_LARGE_MATMUL_N) });
  }
  be.destroy();
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().then(
  // Dawn keeps handles that hold the event loop open; the report is written, so leave now.
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
