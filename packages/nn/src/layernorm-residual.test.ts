import { describe, expect, it } from 'vitest';
import { decodeFixed } from '@puma/ring';
import { concatFlat, matmul, matmulCost, matmulRaw, matmulRawCost, revealRaw, seq, add, truncateCost, type AShare, type Party } from '@puma/protocol';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '@puma/protocol/test-support';
import { layerNorm, layerNormCost } from './layernorm.ts';
import { layerNormOfResidual, layerNormOfResidualCost } from './layernorm-residual.ts';
import type { NormOptions } from './norm.ts';
import { layerNormRow } from './reference.ts';
import { maxAbsError, perRow, quantize, rowsWithStd } from './test-support.ts';

const STDS = [0.05, 0.1, 0.5, 1, 3, 10, 25, 50];

/**
 * Rows with the given stds split into base (at 18 bits) + product (at 36 bits, sub-ulp detail included), run
 * through layerNormOfResidual; returns the exact sum, the revealed x and y.
 */
async function runResidual(stds: readonly number[], n: number, seed: number, eps = 1e-5, o: NormOptions = {}): Promise<{ sum: Float64Array; x: Float64Array; y: Float64Array; gamma: Float64Array; beta: Float64Array }> {
  const rows = stds.length;
  const total = rowsWithStd(stds, n, seed);
  const base = quantize(randomFloats(rows * n, -2, 2, seed + 1));
  const detail = randomFloats(rows * n, 0, 2 ** -18, seed + 4);
  const product = total.map((v, i) => v - base[i] + detail[i]);
  const gamma = quantize(randomFloats(n, -2, 2, seed + 2));
  const beta = quantize(randomFloats(n, -1, 1, seed + 3));
  const inputs = { b: fixedInput(base, [rows, n]), p: fixedInput(product, [rows, n], 36), g: fixedInput(gamma), be: fixedInput(beta) };
  const run = await runWithInputs(inputs, async (p, s) => {
    const r = await layerNormOfResidual(p, s.b, s.p, s.g, s.be, eps, o);
    return decodeFixed(await revealRaw(p, concatFlat(p, [r.x as AShare, r.y])), 18);
  });
  const out = run.results[0];
  const sum = Float64Array.from(base, (v, i) => v + Math.round(product[i] * 2 ** 36) / 2 ** 36);
  return { sum, x: out.subarray(0, rows * n), y: out.subarray(rows * n), gamma, beta };
}

describe('layerNormOfResidual (the mean truncated beside the residual)', () => {
  it('within 5e-3 of float64 for row std 0.05 to 50, widths with odd factor 1, 3 and 5; x within 1 ulp of the sum', async () => {
    for (const n of [64, 48, 40]) {
      const r = await runResidual(STDS, n, n);
      const { err, at } = maxAbsError(r.y, perRow(r.sum, n, (row) => layerNormRow(row, r.gamma, r.beta, 1e-5)));
      console.log(`layerNormOfResidual n = ${n}: max abs error ${err.toExponential(3)} (row std ${STDS[Math.floor(at / n)]})`);
      expect(err).toBeLessThanOrEqual(5e-3);
      expect(maxAbsError(r.x, r.sum).err).toBeLessThanOrEqual(2 ** -18);
    }
  });

  it('the domain is no narrower than layerNorm\'s: n var = 2^25 at odd factor 3 (96 x std 591), and a constant row gives beta', async () => {
    const r = await runResidual([591, 1], 96, 5);
    expect(maxAbsError(r.y, perRow(r.sum, 96, (row) => layerNormRow(row, r.gamma, r.beta, 1e-5))).err).toBeLessThanOrEqual(5e-3);
    const flat = await runWithInputs({ b: fixedInput(new Array(24).fill(1.5), [1, 24]), p: fixedInput(new Array(24).fill(2.25), [1, 24], 36), g: fixedInput(new Array(24).fill(1)), be: fixedInput(new Array(24).fill(0.5)) },
      async (p, s) => decodeFixed(await revealRaw(p, (await layerNormOfResidual(p, s.b, s.p, s.g, s.be, 1e-12)).y), 18));
    expect(maxAbsError(flat.results[0], new Array(24).fill(0.5)).err).toBeLessThanOrEqual(2 ** -17);
  });

  it('after matmulRaw: the same answer as matmul, add and layerNorm, with one round less', async () => {
    const [T, K, n] = [4, 16, 48];
    const h = quantize(randomFloats(T * K, -1, 1, 11));
    const w = quantize(randomFloats(K * n, -0.5, 0.5, 12));
    const res = quantize(randomFloats(T * n, -3, 3, 13));
    const gamma = quantize(randomFloats(n, -2, 2, 14));
    const beta = quantize(randomFloats(n, -1, 1, 15));
    const inputs = { h: fixedInput(h, [T, K]), w: fixedInput(w, [K, n]), r: fixedInput(res, [T, n]), g: fixedInput(gamma), b: fixedInput(beta) };
    const split = async (p: Party, s: Record<string, AShare>) => (await layerNormOfResidual(p, s.r, await matmulRaw(p, s.h, s.w), s.g, s.b, 1e-5)).y;
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
    expectCost(measured, seq(matmulRawCost(T * n), layerNormOfResidualCost(T, n, 1e-5)));
    expect(measured.rounds).toBe(seq(matmulCost(T * n), layerNormCost(T, n, 1e-5)).rounds - 1);
  });

  it('declared cost equals measured cost at odd factors 1 and 3, x kept or not; 15 rounds after the reshare at 32 x 768 and 32 x 128', async () => {
    for (const [rows, n] of [[3, 16], [3, 12], [1, 2]] as const) {
      const inputs = { b: fixedInput(randomFloats(rows * n, -1, 1, 1), [rows, n]), p: fixedInput(rowsWithStd(new Array(rows).fill(2), n, 2), [rows, n], 36), g: fixedInput(new Array(n).fill(1)), be: fixedInput(new Array(n).fill(0)) };
      for (const keep of [true, false]) {
        expectCost(await measureOp(inputs, (p, s) => layerNormOfResidual(p, s.b, s.p, s.g, s.be, 1e-5, {}, keep)), layerNormOfResidualCost(rows, n, 1e-5, {}, keep));
      }
    }
    expect(layerNormOfResidualCost(32, 768, 1e-5).rounds).toBe(15);
    expect(layerNormOfResidualCost(32, 128, 1e-5).rounds).toBe(15);
  });

  it('on a narrow published window d\' comes from the kept x (no x_d): within 5e-3, declared = measured, one truncation of the rows fewer', async () => {
    // o^2 n (maxVar + eps) = 9 * 48 * 2500 is far below 2^26, so x at f bits serves as d's source.
    const win = { minVar: 0.04 ** 2, maxVar: 60 ** 2 };
    for (const n of [48, 40]) {
      const r = await runResidual(STDS, n, n + 7, 1e-5, win);
      const { err } = maxAbsError(r.y, perRow(r.sum, n, (row) => layerNormRow(row, r.gamma, r.beta, 1e-5)));
      console.log(`layerNormOfResidual n = ${n} on the window: max abs error ${err.toExponential(3)}`);
      expect(err).toBeLessThanOrEqual(5e-3);
      expect(maxAbsError(r.x, r.sum).err).toBeLessThanOrEqual(2 ** -18);
    }
    const [rows, n] = [3, 12];
    const inputs = { b: fixedInput(randomFloats(rows * n, -1, 1, 1), [rows, n]), p: fixedInput(rowsWithStd(new Array(rows).fill(2), n, 2), [rows, n], 36), g: fixedInput(new Array(n).fill(1)), be: fixedInput(new Array(n).fill(0)) };
    for (const keep of [true, false]) expectCost(await measureOp(inputs, (p, s) => layerNormOfResidual(p, s.b, s.p, s.g, s.be, 1e-5, win, keep)), layerNormOfResidualCost(rows, n, 1e-5, win, keep));
    // Keeping x costs nothing extra on the window (x replaces x_d); without a window it costs x's truncation. The two
    // differ only in d's fraction bits (18 and 16): the lanes' level-0 truncation takes 40 and 36 bits, and the
    // product of its T component with v^2's (25 bits) vanishes mod 2^64 only at 36 (maskedChainPlan.ts
    // pairVanishes), one dealt word per lane value more at 40 (22 x 32), on party 0, which deals these small chains.
    const [kept, dropped] = [true, false].map((keep) => layerNormOfResidualCost(32, 768, 1e-5, win, keep));
    expect(kept.rounds).toBe(dropped.rounds);
    expect(kept.bytes.slice(1)).toEqual(dropped.bytes.slice(1));
    expect(kept.bytes[0] - dropped.bytes[0]).toBe(22 * 32 * 8);
    const plain = [true, false].map((keep) => layerNormOfResidualCost(32, 768, 1e-5, {}, keep).bytes[0]);
    expect(plain[0] - plain[1]).toBe(truncateCost(32 * 768).bytes[0]);
    // A window too wide for x at f bits (o^2 n maxVar above 2^26) keeps x_d.
    const wide = { maxVar: 2 ** 26 / (9 * 768) * 1.01 };
    expect(layerNormOfResidualCost(32, 768, 1e-5, wide, true).bytes[0] - layerNormOfResidualCost(32, 768, 1e-5, wide, false).bytes[0]).toBe(truncateCost(32 * 768).bytes[0]);
  });

  it('rejects mismatched shapes and parameters by name', async () => {
    const inputs = { b: fixedInput([1, 2, 3, 4], [2, 2]), p: fixedInput([1, 2, 3, 4, 5, 6], [2, 3], 36), g: fixedInput([1, 1]), be: fixedInput([0, 0]), g3: fixedInput([1, 1, 1]) };
    await expect(runWithInputs(inputs, (p, s) => layerNormOfResidual(p, s.b, s.p, s.g, s.be, 1e-5))).rejects.toThrow(/layerNormOfResidual: shapes/);
    await expect(runWithInputs(inputs, (p, s) => layerNormOfResidual(p, s.b, s.b, s.g3, s.be, 1e-5))).rejects.toThrow(/gamma must have shape \[2\]/);
    await expect(runWithInputs(inputs, (p, s) => layerNormOfResidual(p, s.b, s.b, s.g, s.be, 0))).rejects.toThrow(/eps must be a positive/);
  });
});
