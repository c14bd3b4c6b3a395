import { describe, expect, it } from 'vitest';
import { decodeFixed } from '@puma/ring';
import { matmul, matmulCost, matmulTerm, revealRaw, seq, add, type AShare, type Party } from '@puma/protocol';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '@puma/protocol/test-support';
import { layerNorm, layerNormCost } from './layernorm.ts';
import { layerNormOfResidual, layerNormOfResidualCost } from './layernorm-residual.ts';
import type { NormOptions } from './norm.ts';
import { sumOf, sumOfTerm } from './norm-matmul-test-support.ts';
import { layerNormRow } from './reference.ts';
import { maxAbsError, perRow, quantize, rowsWithStd } from './test-support.ts';

const STDS = [0.05, 0.1, 0.5, 1, 3, 10, 25, 50];

/**
 * Rows with the given stds split into base (at 18 bits) + product (at 36 bits, sub-ulp detail included), given
 * to layerNormOfResidual as each party's term of the sum; returns the exact sum, the revealed x and y.
 */
async function runResidual(stds: readonly number[], n: number, seed: number, eps = 1e-5, o: NormOptions = {}): Promise<{ sum: Float64Array; y: Float64Array; gamma: Float64Array; beta: Float64Array }> {
  const rows = stds.length;
  const total = rowsWithStd(stds, n, seed);
  const base = quantize(randomFloats(rows * n, -2, 2, seed + 1));
  const detail = randomFloats(rows * n, 0, 2 ** -18, seed + 4);
  const product = total.map((v, i) => v - base[i] + detail[i]);
  const gamma = quantize(randomFloats(n, -2, 2, seed + 2));
  const beta = quantize(randomFloats(n, -1, 1, seed + 3));
  const inputs = { b: fixedInput(base, [rows, n]), p: fixedInput(product, [rows, n], 36), g: fixedInput(gamma), be: fixedInput(beta) };
  const run = await runWithInputs(inputs, async (p, s) => {
    return decodeFixed(await revealRaw(p, await layerNormOfResidual(p, sumOf(p, s.b, s.p), s.g, s.be, eps, o)), 18);
  });
  const sum = Float64Array.from(base, (v, i) => v + Math.round(product[i] * 2 ** 36) / 2 ** 36);
  return { sum, y: run.results[0], gamma, beta };
}

describe('layerNormOfResidual (the mean taken on the sum\'s term, d\' truncated with its squares)', () => {
  it('within 5e-3 of float64 for row std 0.05 to 50, widths with odd factor 1, 3 and 5', async () => {
    for (const n of [64, 48, 40]) {
      const r = await runResidual(STDS, n, n);
      const { err, at } = maxAbsError(r.y, perRow(r.sum, n, (row) => layerNormRow(row, r.gamma, r.beta, 1e-5)));
      console.log(`layerNormOfResidual n = ${n}: max abs error ${err.toExponential(3)} (row std ${STDS[Math.floor(at / n)]})`);
      expect(err).toBeLessThanOrEqual(5e-3);
    }
  });

  it('the domain is no narrower than layerNorm\'s: n var = 2^25 at odd factor 3 (96 x std 591), and a constant row gives beta', async () => {
    const r = await runResidual([591, 1], 96, 5);
    expect(maxAbsError(r.y, perRow(r.sum, 96, (row) => layerNormRow(row, r.gamma, r.beta, 1e-5))).err).toBeLessThanOrEqual(5e-3);
    const flat = await runWithInputs({ b: fixedInput(new Array(24).fill(1.5), [1, 24]), p: fixedInput(new Array(24).fill(2.25), [1, 24], 36), g: fixedInput(new Array(24).fill(1)), be: fixedInput(new Array(24).fill(0.5)) },
      async (p, s) => decodeFixed(await revealRaw(p, await layerNormOfResidual(p, sumOf(p, s.b, s.p), s.g, s.be, 1e-12)), 18));
    expect(maxAbsError(flat.results[0], new Array(24).fill(0.5)).err).toBeLessThanOrEqual(2 ** -17);
  });

  it('from a matmul\'s term: the same answer as matmul, add and layerNorm, 3 rounds sooner', async () => {
    const [T, K, n] = [4, 16, 48];
    const h = quantize(randomFloats(T * K, -1, 1, 11));
    const w = quantize(randomFloats(K * n, -0.5, 0.5, 12));
    const res = quantize(randomFloats(T * n, -3, 3, 13));
    const gamma = quantize(randomFloats(n, -2, 2, 14));
    const beta = quantize(randomFloats(n, -1, 1, 15));
    const inputs = { h: fixedInput(h, [T, K]), w: fixedInput(w, [K, n]), r: fixedInput(res, [T, n]), g: fixedInput(gamma), b: fixedInput(beta) };
    const split = (p: Party, s: Record<string, AShare>) => layerNormOfResidual(p, sumOfTerm(p, s.r, matmulTerm(p, s.h, s.w).z), s.g, s.b, 1e-5);
    const fused = async (p: Party, s: Record<string, AShare>) => layerNorm(p, add(p, s.r, await matmul(p, s.h, s.w)), s.g, s.b, 1e-5);
    const sum = Float64Array.from({ length: T * n }, (_, e) => {
      const [t, j] = [Math.floor(e / n), e % n];
      let v = res[e];
      for (let k = 0; k < K; k++) v += h[t * K + k] * w[k * n + j];
      return v;
    });
    const want = perRow(sum, n, (row) => layerNormRow(row, gamma, beta, 1e-5));
    for (const f of [split, fused]) {
      const run = await runWithInputs(inputs, async (p, s) => decodeFixed(await revealRaw(p, await f(p, s)), 18));
      expect(maxAbsError(run.results[0], want).err).toBeLessThanOrEqual(5e-3);
    }
    const measured = await measureOp(inputs, split);
    expectCost(measured, layerNormOfResidualCost(T, n, 1e-5));
    // The matmul's fused truncation (2) and S's own resharing (1) leave the path: d' and the squares come from one
    // truncation of the term, whose first round starts R.
    expect(measured.rounds).toBe(seq(matmulCost(T * n), layerNormCost(T, n, 1e-5)).rounds - 3);
  });

  it('declared cost equals measured cost at odd factors 1 and 3; 14 rounds from the term at 32 x 768 and 32 x 128', async () => {
    for (const [rows, n] of [[3, 16], [3, 12], [1, 2]] as const) {
      const inputs = { b: fixedInput(randomFloats(rows * n, -1, 1, 1), [rows, n]), p: fixedInput(rowsWithStd(new Array(rows).fill(2), n, 2), [rows, n], 36), g: fixedInput(new Array(n).fill(1)), be: fixedInput(new Array(n).fill(0)) };
      expectCost(await measureOp(inputs, (p, s) => layerNormOfResidual(p, sumOf(p, s.b, s.p), s.g, s.be, 1e-5)), layerNormOfResidualCost(rows, n, 1e-5));
    }
    // The truncation's first round, the squares' resharing and R (1 + 10), the product m R (2). Before (the product
    // reshared, x's and the mean's truncations, then norm.ts's tail): 1 + 2 + 13 = 16.
    expect(layerNormOfResidualCost(32, 768, 1e-5).rounds).toBe(14);
    expect(layerNormOfResidualCost(32, 128, 1e-5).rounds).toBe(14);
  });

  it('leaves the sum\'s term as it was (the stream goes on from it): the same words before and after, at every party', async () => {
    const [rows, n] = [3, 12];
    const inputs = { b: fixedInput(randomFloats(rows * n, -1, 1, 3), [rows, n]), p: fixedInput(rowsWithStd(new Array(rows).fill(2), n, 4), [rows, n], 36), g: fixedInput(new Array(n).fill(1)), be: fixedInput(new Array(n).fill(0)) };
    const run = await runWithInputs(inputs, async (p, s) => {
      const sum = sumOf(p, s.b, s.p);
      const before = await p.backend.read(sum.term);
      await layerNormOfResidual(p, sum, s.g, s.be, 1e-5);
      return { before, after: await p.backend.read(sum.term) };
    });
    for (const r of run.results) expect(r.after).toEqual(r.before);
  });

  it('on a narrow published window d\' keeps the session\'s fraction bits: within 5e-3, declared = measured, 8 rounds (10 before)', async () => {
    // o^2 n (maxVar + eps) = 9 * 48 * 2500 is far below 2^26, so d' = o (x - mean) fits S at 2f bits.
    const win = { minVar: 0.04 ** 2, maxVar: 60 ** 2 };
    for (const n of [48, 40]) {
      const r = await runResidual(STDS, n, n + 7, 1e-5, win);
      const { err } = maxAbsError(r.y, perRow(r.sum, n, (row) => layerNormRow(row, r.gamma, r.beta, 1e-5)));
      console.log(`layerNormOfResidual n = ${n} on the window: max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(5e-3);
    }
    const [rows, n] = [3, 12];
    const inputs = { b: fixedInput(randomFloats(rows * n, -1, 1, 1), [rows, n]), p: fixedInput(rowsWithStd(new Array(rows).fill(2), n, 2), [rows, n], 36), g: fixedInput(new Array(n).fill(1)), be: fixedInput(new Array(n).fill(0)) };
    expectCost(await measureOp(inputs, (p, s) => layerNormOfResidual(p, sumOf(p, s.b, s.p), s.g, s.be, 1e-5, win)), layerNormOfResidualCost(rows, n, 1e-5, win));
    expect(layerNormOfResidualCost(32, 768, 1e-5, win).rounds).toBe(8);
  });

  it('rejects a term at other fraction bits, mismatched parameters and a bad eps by name', async () => {
    const inputs = { b: fixedInput([1, 2, 3, 4], [2, 2]), p: fixedInput([1, 2, 3, 4], [2, 2], 36), g: fixedInput([1, 1]), be: fixedInput([0, 0]), g3: fixedInput([1, 1, 1]) };
    await expect(runWithInputs(inputs, (p, s) => layerNormOfResidual(p, { ...sumOf(p, s.b, s.p), fracBits: 18 }, s.g, s.be, 1e-5))).rejects.toThrow(/term must be at 36 fraction bits, got 18/);
    await expect(runWithInputs(inputs, (p, s) => layerNormOfResidual(p, sumOf(p, s.b, s.p), s.g3, s.be, 1e-5))).rejects.toThrow(/gamma must have shape \[2\]/);
    await expect(runWithInputs(inputs, (p, s) => layerNormOfResidual(p, sumOf(p, s.b, s.p), s.g, s.be, 0))).rejects.toThrow(/eps must be a positive/);
    // Rows wider than 2^13 at 18 fraction bits: the variance's domain no longer bounds the centred sum.
    expect(() => layerNormOfResidualCost(1, 3 * 2 ** 11, 1e-5)).not.toThrow();
    expect(() => layerNormOfResidualCost(1, 2 ** 14, 1e-5)).toThrow(/rows of 16384 columns are wider than the 8192/);
  });
});
