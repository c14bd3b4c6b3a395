/**
 * Throughputs of the wasm backend for the bench suite, each the median of several runs after a warm-up run
 * (which also lets the engine tier the kernel up): one n x n x n product mod 2^64, a decoding step's products on
 * one weight block, and the ChaCha20 expansion of a PRG component (the words a party regenerates per pass for its
 * seeded weight shares).
 */
import type { Backend } from '@puma/backend';

let backend: Promise<Backend> | undefined;

/** Cheap deterministic fill (splitmix-style mixing on 32-bit halves); the values only need to be non-trivial. */
function filler(n: number, seed: number): BigUint64Array {
  const out = new BigUint64Array(n);
  const w = new Uint32Array(out.buffer);
  let x = seed >>> 0;
  for (let i = 0; i < w.length; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    w[i] = (z ^ (z >>> 16)) >>> 0;
  }
  return out;
}

export async function matmulRate(n: number): Promise<{ ms: number; gmacs: number }> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`matmulRate: n must be a positive integer, got ${n}`);
  backend ??= import('./backend.ts').then((m) => m.createWasmBackend());
  const be = await backend;
  const a = be.upload(filler(n * n, 1));
  const b = be.upload(filler(n * n, 2));
  const dims = { m: n, k: n, n };
  try {
    const ms = medianMs(n <= 256 ? 9 : 5, () => be.matmul(a, b, dims), (c) => be.release(c));
    return { ms, gmacs: n ** 3 / (ms * 1e6) };
  } finally {
    be.release(a);
    be.release(b);
  }
}

/**
 * A decoding step's local products on one weight block W [k, n] (one query row x [1, k]): x W (the row path),
 * x W' with W' [n, k] stored transposed (a tied head's block, dot-product path) against W' x^T (one output
 * column), and the elementwise sum of two blocks (the pass streamed-matmul.ts no longer makes); ms, median of 9.
 */
export async function rowProductRates(k: number, n: number): Promise<{ rowMs: number; dotMs: number; columnMs: number; blockSumMs: number }> {
  if (![k, n].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`rowProductRates: k and n must be positive integers, got ${k} and ${n}`);
  backend ??= import('./backend.ts').then((m) => m.createWasmBackend());
  const be = await backend;
  const w = be.upload(filler(k * n, 3));
  const v = be.upload(filler(k * n, 4));
  const x = be.upload(filler(k, 5));
  const release = (c: ReturnType<typeof be.add>) => be.release(c);
  try {
    return {
      rowMs: medianMs(9, () => be.matmul(x, w, { m: 1, k, n }), release),
      dotMs: medianMs(9, () => be.matmul(x, w, { m: 1, k, n, transB: true }), release),
      columnMs: medianMs(9, () => be.matmul(w, x, { m: n, k, n: 1, transB: true }), release),
      blockSumMs: medianMs(9, () => be.add(w, v), release),
    };
  } finally {
    for (const b of [w, v, x]) be.release(b);
  }
}

/** The median wall time of `runs` calls of `op` after one warm-up call, each result released untimed. */
function medianMs<T>(runs: number, op: () => T, release: (r: T) => void): number {
  release(op());
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const out = op();
    times.push(performance.now() - t0);
    release(out);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(runs / 2)];
}

/** ChaCha20 expansion of n words (prg, SIMD), in ns per word: the median of 9 runs. */
export async function prgRate(n: number): Promise<{ ms: number; nsPerWord: number }> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`prgRate: n must be a positive integer, got ${n}`);
  backend ??= import('./backend.ts').then((m) => m.createWasmBackend());
  const be = await backend;
  const key = Uint32Array.from({ length: 8 }, (_, i) => 0x9e3779b9 * (i + 1));
  const nonce = new Uint32Array(3);
  const ms = medianMs(9, () => be.prg(key, nonce, n), (w) => be.release(w));
  return { ms, nsPerWord: (ms * 1e6) / n };
}
