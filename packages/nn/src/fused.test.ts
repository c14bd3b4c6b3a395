import { describe, expect, it } from 'vitest';
import { decodeFixed, encodeFixed } from '@puma/ring';
import { addPublic, mulPublicInt, reshape, revealRaw, sumLast } from '@puma/protocol';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '@puma/protocol/test-support';
import { dotLastRaw, dotLastRawCost, dotLastTrunc, mulTrunc, mulTruncCost, productSumTrunc } from './fused.ts';
import { polyCost, polyEval, POLY_SCALE } from './poly.ts';
import { quantize } from './test-support.ts';

describe('fused products and polynomial evaluation', () => {
  it('mulTrunc by any bit count, product sums with an addend, per-row dot products: within 1 ulp', async () => {
    const x = quantize(randomFloats(96, -8, 8, 1));
    const y = quantize(randomFloats(96, -8, 8, 2));
    const run = await runWithInputs({ x: fixedInput(x, [8, 12]), y: fixedInput(y, [8, 12]) }, async (p, s) => {
      const a = await mulTrunc(p, s.x, s.y, 10);
      const b = await productSumTrunc(p, [[s.x, s.y], [s.y, s.y]], 18, mulPublicInt(p, addPublic(p, s.x, 1), 1n << 18n));
      const c = await dotLastTrunc(p, s.x, s.y, 30);
      const rowSums = reshape(sumLast(p, s.x), [8]);
      const d = await dotLastTrunc(p, s.x, s.y, 30, mulPublicInt(p, rowSums, 1n << 18n));
      const e = await dotLastRaw(p, s.x, s.y, mulPublicInt(p, rowSums, 1n << 18n));
      return [await revealRaw(p, a), await revealRaw(p, b), await revealRaw(p, c), await revealRaw(p, d), await revealRaw(p, e)];
    });
    const [a, b, c, d, e] = run.results[0];
    const d6 = decodeFixed(d, 6);
    const e36 = decodeFixed(e, 36);
    const a26 = decodeFixed(a, 26);
    const b18 = decodeFixed(b, 18);
    const c6 = decodeFixed(c, 6);
    for (let i = 0; i < 96; i++) {
      expect(Math.abs(a26[i] - x[i] * y[i])).toBeLessThanOrEqual(2 ** -26);
      expect(Math.abs(b18[i] - (x[i] * y[i] + y[i] * y[i] + x[i] + 1))).toBeLessThanOrEqual(2 ** -18);
    }
    for (let r = 0; r < 8; r++) {
      let dot = 0;
      for (let j = 0; j < 12; j++) dot += x[r * 12 + j] * y[r * 12 + j];
      expect(Math.abs(c6[r] - dot)).toBeLessThanOrEqual(2 ** -6);
      const withSum = dot + x.slice(r * 12, (r + 1) * 12).reduce((t, v) => t + v, 0);
      expect(Math.abs(d6[r] - withSum)).toBeLessThanOrEqual(2 ** -6);
      // No truncation: the ring sum of the raw products is exact (float64 rounding of the 2^36-scaled check only).
      expect(Math.abs(e36[r] - withSum)).toBeLessThanOrEqual(1e-12);
    }
  });

  it('polyEval: several polynomials of one variable, degrees 2 to 8, within 3e-5', async () => {
    const v = randomFloats(64, -1, 1, 3);
    const polys = [[0.5, -1, 2], [1, 0.25, -0.5, 0.125, 1.5], [0.3, 0.7, -0.2, 0.1, -0.9, 0.4, 0.05, -0.3, 0.6]];
    const run = await runWithInputs({ v: { values: encodeFixed(v, POLY_SCALE), shape: [64] } }, async (p, s) => {
      const outs = await polyEval(p, s.v, polys, { bound: 1, outScale: 24 });
      return Promise.all(outs.map(async (o) => decodeFixed(await revealRaw(p, o), 24)));
    });
    const vq = quantize(v, POLY_SCALE);
    polys.forEach((c, j) => {
      for (let i = 0; i < 64; i++) expect(Math.abs(run.results[0][j][i] - c.reduceRight((acc, a) => acc * vq[i] + a, 0))).toBeLessThanOrEqual(3e-5);
    });
  });

  it('declared costs equal measured costs', async () => {
    const inputs = { x: fixedInput(randomFloats(50, -1, 1, 4), [5, 10]), y: fixedInput(randomFloats(50, -1, 1, 5), [5, 10]) };
    expectCost(await measureOp(inputs, (p, s) => mulTrunc(p, s.x, s.y, 20)), mulTruncCost(50));
    expectCost(await measureOp(inputs, (p, s) => dotLastTrunc(p, s.x, s.y, 20)), mulTruncCost(5));
    expectCost(await measureOp(inputs, (p, s) => dotLastRaw(p, s.x, s.y)), dotLastRawCost(5));
    for (const d of [2, 4, 6, 8]) {
      const c = Array.from({ length: d + 1 }, (_, k) => 1 / (k + 1));
      expectCost(await measureOp(inputs, (p, s) => polyEval(p, s.x, [c, c], { bound: 1, outScale: 18 })), polyCost(50, d, 2));
    }
  });

  it('polynomials as masked chains: the rounds and words in all per value the docs state (poly.ts, maskedChain.ts)', () => {
    // Rotated dealers; words summed over the three parties, per value of v.
    const n = 3 * 4096;
    const words = (c: { bytes: readonly number[] }) => c.bytes.reduce((a, b) => a + b, 0) / 8 / n;
    expect([polyCost(n, 4).rounds, words(polyCost(n, 4))]).toEqual([3, 19]);
    expect([polyCost(n, 4, 1, 64, { truncatedArgument: true }).rounds, words(polyCost(n, 4, 1, 64, { truncatedArgument: true }))]).toEqual([4, 21]);
    expect([polyCost(n, 6).rounds, words(polyCost(n, 6))]).toEqual([4, 28]);
    // As separate products: 2 rounds and 8 words per level (a truncation of the argument as one more level).
    expect([mulTruncCost(n).rounds, words(mulTruncCost(n))]).toEqual([2, 8]);
  });

  it('rejects bad truncation amounts and degrees', async () => {
    const inputs = { x: fixedInput([1, 2]) };
    await expect(runWithInputs(inputs, (p, s) => mulTrunc(p, s.x, s.x, 0))).rejects.toThrow(/out of range/);
    await expect(runWithInputs(inputs, (p, s) => polyEval(p, s.x, [new Array<number>(10).fill(0.1)], { bound: 1, outScale: 18 }))).rejects.toThrow(/degree 9/);
  });
});
