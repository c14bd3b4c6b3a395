/**
 * Kernel throughput of any Backend, for the backend bench: the same method for WebAssembly and WebGPU so the
 * numbers compare. Kernels are queued back to back and each timed run is closed by reading one element of
 * the last result, which waits for all queued GPU work (one queue) and costs a few microseconds of copy;
 * per-kernel time is the run's time over the number of kernels. Uploading the operands and reading a whole
 * result back are timed separately, so the kernel time excludes transfers.
 */
import type { Backend, Buf } from '@puma/backend';
import { randomWords } from '@puma/backend/conformance';

export interface KernelTiming {
  /** Median milliseconds per kernel, transfers excluded. */
  kernelMs: number;
  /** Giga operations per second at kernelMs (multiply-adds for matmul, multiplications for elementwise). */
  gops: number;
  /** Median milliseconds to upload the operands until they are resident where the backend computes. */
  uploadMs: number;
  /** Median milliseconds to read one whole result back into a BigUint64Array. */
  readbackMs: number;
  /** Timed runs behind each median. */
  runs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Waits until `b` (and everything queued before it) is computed, by reading one of its elements. */
async function finish(be: Backend, b: Buf): Promise<void> {
  const one = be.slice(b, 0, 1);
  await be.read(one);
  be.release(one);
}

async function measure(be: Backend, operands: BigUint64Array[], kernel: (bufs: Buf[]) => Buf, ops: number, reps: number, runs: number): Promise<KernelTiming> {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive integer, got ${runs}`);
  const upload = async () => {
    const bufs = operands.map((x) => be.upload(x));
    await finish(be, bufs[bufs.length - 1]);
    return bufs;
  };
  const uploadTimes: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const bufs = await upload();
    uploadTimes.push(performance.now() - t0);
    for (const b of bufs) be.release(b);
  }
  const bufs = await upload();
  const kernelRun = async () => {
    const outs: Buf[] = [];
    for (let i = 0; i < reps; i++) outs.push(kernel(bufs));
    await finish(be, outs[outs.length - 1]);
    for (const o of outs) be.release(o);
  };
  // The warm-up run also builds lazily created state (pipelines, pools, tiered-up wasm code).
  await kernelRun();
  const kernelTimes: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await kernelRun();
    kernelTimes.push((performance.now() - t0) / reps);
  }
  const out = kernel(bufs);
  await finish(be, out);
  const readTimes: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await be.read(out);
    readTimes.push(performance.now() - t0);
  }
  be.release(out);
  for (const b of bufs) be.release(b);
  const kernelMs = median(kernelTimes);
  return { kernelMs, gops: ops / (kernelMs * 1e6), uploadMs: median(uploadTimes), readbackMs: median(readTimes), runs };
}

/** Elementwise u64 multiplication of n elements (8 kernels per timed run). */
export async function elementwiseMulTiming(be: Backend, n: number, runs = 5): Promise<KernelTiming> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`elementwise size must be a positive integer, got ${n}`);
  return measure(be, [randomWords(n, 1), randomWords(n, 2)], ([a, b]) => be.mul(a, b), n, 8, runs);
}

/** n x n x n u64 matmul (2 kernels per timed run). */
export async function matmulTiming(be: Backend, n: number, runs = 3): Promise<KernelTiming> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`matmul size must be a positive integer, got ${n}`);
  return measure(be, [randomWords(n * n, 3), randomWords(n * n, 4)], ([a, b]) => be.matmul(a, b, { m: n, k: n, n }), n ** 3, 2, runs);
}

/** Workload of the backend bench: matmul n^3, elementwise multiply over n elements, the large matmul. */
export const BENCH_MATMUL_N = 512;
export const BENCH_ELEMENTWISE_N = 2 ** 22;
export const BENCH_LARGE_MATMUL_N = 2048;

/** What dawn-bench.ts reports. */
export interface BackendBenchReport {
  adapter: {
    /** The backend's one-line description. */
    summary: string;
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter: boolean;
  };
  results: Array<{ kernel: 'matmul' | 'mul'; n: number; timing: KernelTiming }>;
}
