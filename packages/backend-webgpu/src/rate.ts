/**
 * Throughput of the GPU kernels for the bench suite: medians over a few timed runs after a warm-up. Work is
 * queued back to back and closed by reading one element, so the time covers the kernels (and one small
 * readback) rather than transfers of the operands.
 */
import type { Backend, Buf } from '@puma/backend';
import { randomWords } from '@puma/backend/conformance';
import { createWebGpuBackend, type WebGpuBackend } from './index.ts';

export interface RateOptions {
  /** Backend to measure; defaults to a fresh WebGPU backend on navigator.gpu (pass a Dawn one in Node). */
  backend?: Backend;
  /** Timed runs; the median is reported. */
  runs?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function withBackend<T>(opts: RateOptions, f: (be: Backend) => Promise<T>): Promise<T> {
  if (opts.backend) return f(opts.backend);
  const be: WebGpuBackend = await createWebGpuBackend();
  try {
    return await f(be);
  } finally {
    be.destroy();
  }
}

/** Median milliseconds of `reps` back-to-back calls of `op`, each run closed by a one-element read. */
async function timeOps(be: Backend, op: () => Buf, reps: number, runs: number): Promise<number> {
  const once = async () => {
    const outs: Buf[] = [];
    for (let i = 0; i < reps; i++) outs.push(op());
    const last = be.slice(outs[outs.length - 1], 0, 1);
    await be.read(last);
    be.release(last);
    for (const o of outs) be.release(o);
  };
  await once();
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await once();
    times.push((performance.now() - t0) / reps);
  }
  return median(times);
}

/** Elementwise u64 multiplication of n elements: median ms per kernel and G multiplications per second. */
export async function elementwiseRate(n = 1 << 20, opts: RateOptions = {}): Promise<{ ms: number; gops: number }> {
  return withBackend(opts, async (be) => {
    const a = be.upload(randomWords(n, 1));
    const b = be.upload(randomWords(n, 2));
    const ms = await timeOps(be, () => be.mul(a, b), 8, opts.runs ?? 5);
    be.release(a);
    be.release(b);
    return { ms, gops: n / (ms * 1e6) };
  });
}

/** n x n x n u64 matmul: median ms per product and G multiply-adds per second. */
export async function matmulRate(n: number, opts: RateOptions = {}): Promise<{ ms: number; gmacs: number }> {
  return withBackend(opts, async (be) => {
    const a = be.upload(randomWords(n * n, 3));
    const b = be.upload(randomWords(n * n, 4));
    const ms = await timeOps(be, () => be.matmul(a, b, { m: n, k: n, n }), 2, opts.runs ?? 3);
    be.release(a);
    be.release(b);
    return { ms, gmacs: (n * n * n) / (ms * 1e6) };
  });
}
