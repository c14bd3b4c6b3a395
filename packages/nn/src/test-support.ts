/**
 * Shared by the nn tests only: run one nn function on secret-shared float inputs through the three-party
 * runner and reveal the result as floats, plus error measures.
 */
import { decodeFixed } from '@puma/ring';
import { revealRaw, type AShare, type Party } from '@puma/protocol';
import { fixedInput, runWithInputs } from '@puma/protocol/test-support';

export interface FloatInput {
  values: ArrayLike<number>;
  shape?: readonly number[];
}

/** Runs f on the shared inputs and returns the revealed result, decoded with `outScale` fraction bits (session: `fracBits`). */
export async function runNn(inputs: Record<string, FloatInput>, f: (p: Party, xs: Record<string, AShare>) => Promise<AShare>, outScale = 18, fracBits = 18): Promise<Float64Array> {
  const enc = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, fixedInput(v.values, v.shape ?? [v.values.length], fracBits)]));
  const run = await runWithInputs(enc, async (p, xs) => decodeFixed(await revealRaw(p, await f(p, xs)), outScale), { fracBits });
  return run.results[0];
}

/** Inputs as the parties see them: rounded to the fixed-point grid. */
export function quantize(xs: ArrayLike<number>, fracBits = 18): Float64Array {
  return Float64Array.from(xs, (v) => Math.round(v * 2 ** fracBits) / 2 ** fracBits);
}

export function maxAbsError(got: ArrayLike<number>, want: ArrayLike<number>): { err: number; at: number } {
  let err = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  return { err, at };
}

export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): { err: number; at: number } {
  let err = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / Math.abs(want[i]);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  return { err, at };
}

/** n points evenly spaced over [lo, hi], endpoints included. */
export function linspace(lo: number, hi: number, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => (n === 1 ? lo : lo + ((hi - lo) * i) / (n - 1)));
}

/** Log-uniform points on [2^lo, 2^hi], plus the powers of two in between and their 1-ulp neighbours. */
export function logSweep(lo: number, hi: number, n: number): number[] {
  const pts = Array.from({ length: n }, (_, i) => 2 ** (lo + ((hi - lo) * i) / (n - 1)));
  for (let k = Math.ceil(lo); k <= hi; k++) pts.push(2 ** k, 2 ** k + 2 ** -18, 2 ** k - 2 ** -18);
  return pts.filter((v) => v >= 2 ** lo && v <= 2 ** hi);
}

/** Rows of n values with the given standard deviations (population), means in [-5, 5] unless centred. */
export function rowsWithStd(stds: readonly number[], n: number, seed: number, centred = false): Float64Array {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  const out = new Float64Array(stds.length * n);
  stds.forEach((sd, r) => {
    const row = Array.from({ length: n }, next);
    const m = row.reduce((a, b) => a + b, 0) / n;
    const rs = Math.sqrt(row.reduce((a, b) => a + (b - m) ** 2, 0) / n);
    const mean = centred ? 0 : ((r * 37) % 11) - 5;
    for (let j = 0; j < n; j++) out[r * n + j] = mean + ((row[j] - m) / rs) * sd;
  });
  return quantize(out);
}

/** Applies a row function to each row of n values. */
export function perRow(x: Float64Array, n: number, f: (row: Float64Array) => number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / n; r++) out.push(...f(x.subarray(r * n, (r + 1) * n)));
  return out;
}
