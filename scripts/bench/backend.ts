/**
 * `npm run bench -- backend [--json] [--large]`: raw kernel throughput of both backends on this machine,
 * u64 matmul 512^3 and elementwise multiply over 2^22 elements: WebAssembly in this process (one thread) and
 * WebGPU through Dawn in a child process (SwiftShader where there is no GPU; the real adapter where there
 * is one). Kernel medians exclude transfers; upload and readback are separate columns. With --large, both
 * backends also run matmul 2048^3 (the throughput target on a real GPU, with the CPU's figure beside it);
 * WebGPU runs it on any non-fallback adapter anyway. If WebGPU cannot run, its rows say why.
 */
import { fileURLToPath } from 'node:url';
import { createWasmBackend } from '@puma/backend-wasm';
import { runDawnProcess } from '@puma/backend-webgpu/dawn-process';
import {
  BENCH_ELEMENTWISE_N,
  BENCH_LARGE_MATMUL_N,
  BENCH_MATMUL_N,
  elementwiseMulTiming,
  matmulTiming,
  type BackendBenchReport,
  type KernelTiming,
} from '@puma/backend-webgpu/rate';
import type { BenchRow, BenchSuite } from './report.ts';

const DAWN_BENCH = fileURLToPath(new URL('../../packages/backend-webgpu/src/dawn-bench.ts', import.meta.url));
const WASM = 'WebAssembly (Node, 1 thread)';
const WEBGPU = 'WebGPU (Node, Dawn)';

type Kernel = BackendBenchReport['results'][number]['kernel'];

/** Name and size of a workload, and which operation its G/s counts. */
function workload(kernel: Kernel, n: number): Pick<BenchRow, 'name' | 'size'> & { op: string } {
  return kernel === 'matmul'
    ? { name: 'u64 matmul', size: `${n}^3`, op: 'multiply-add' }
    : { name: 'u64 elementwise multiply', size: Number.isInteger(Math.log2(n)) ? `2^${Math.log2(n)}` : String(n), op: 'multiply' };
}

/** One timed row; `adapter` is a description for WebAssembly, the adapter's details for WebGPU. */
function timedRow(kernel: Kernel, n: number, backend: string, t: KernelTiming, adapter: string | BackendBenchReport['adapter']): BenchRow {
  const w = workload(kernel, n);
  process.stderr.write(`  ${w.name} ${w.size} on ${backend}: ${t.kernelMs.toFixed(1)} ms, ${t.gops.toFixed(3)} G ${w.op}/s\n`);
  const row: BenchRow = { ...w, backend, medianMs: t.kernelMs, gOpsPerS: t.gops, uploadMs: t.uploadMs, readbackMs: t.readbackMs, runs: t.runs };
  if (typeof adapter === 'string') return { ...row, adapter };
  // The object column appears in --json output only.
  return { ...row, adapter: adapter.summary, fallbackAdapter: adapter.isFallbackAdapter, adapterInfo: adapter };
}

async function wasmRows(large: boolean): Promise<BenchRow[]> {
  const be = await createWasmBackend();
  const rows = [
    timedRow('matmul', BENCH_MATMUL_N, WASM, await matmulTiming(be, BENCH_MATMUL_N), be.description),
    timedRow('mul', BENCH_ELEMENTWISE_N, WASM, await elementwiseMulTiming(be, BENCH_ELEMENTWISE_N), be.description),
  ];
  // The large matmul on the CPU too, so a GPU's figure has this machine's WebAssembly beside it (~4 s a kernel).
  if (large) rows.push(timedRow('matmul', BENCH_LARGE_MATMUL_N, WASM, await matmulTiming(be, BENCH_LARGE_MATMUL_N, 1), be.description));
  return rows;
}

async function webGpuRows(large: boolean): Promise<BenchRow[]> {
  // SwiftShader needs about 1.3 s per 512^3 matmul and 64 times that at 2048^3.
  const timeoutMs = (large ? 40 : 10) * 60_000;
  try {
    const report = await runDawnProcess<BackendBenchReport>(DAWN_BENCH, large ? ['--large'] : [], timeoutMs);
    return report.results.map((r) => timedRow(r.kernel, r.n, WEBGPU, r.timing, report.adapter));
  } catch (e) {
    // The first line says how the child ended, the last is its own error (lines between are driver warnings).
    const lines = (e as Error).message.trim().split('\n');
    const note = `WebGPU unavailable: ${lines[0]}${lines.length > 1 ? ` ... ${lines[lines.length - 1]}` : ''}`;
    process.stderr.write(`  ${note}\n`);
    return [
      { ...workload('matmul', BENCH_MATMUL_N), backend: WEBGPU, note },
      { ...workload('mul', BENCH_ELEMENTWISE_N), backend: WEBGPU, note },
    ];
  }
}

const suite: BenchSuite = async ({ args }) => [...(await wasmRows(args.includes('--large'))), ...(await webGpuRows(args.includes('--large')))];

export default suite;
