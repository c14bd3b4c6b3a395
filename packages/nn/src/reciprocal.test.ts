import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { reciprocal, reciprocalCost } from './reciprocal.ts';
import { logSweep, maxRelError, quantize, runNn } from './test-support.ts';

describe('reciprocal', () => {
  it('positive fast path: relative error <= 1e-3 on [1, 2^16] (40 output fraction bits)', async () => {
    const xs = quantize(logSweep(0, 16, 600));
    const got = await runNn({ x: { values: xs } }, (p, s) => reciprocal(p, s.x, { positive: true, lo: 0, hi: 17, outScale: 40 }), 40);
    const { err, at } = maxRelError(got, Array.from(xs, (v) => 1 / v));
    console.log(`reciprocal (positive) max relative error ${err.toExponential(3)} at x = ${xs[at]}`);
    expect(err).toBeLessThanOrEqual(1e-3);
  });

  it('positive x on a narrow window (27 bits, by dealer tables): exact octaves except just below each 2^j, still within 1e-3 there; below 2^lo gives 0', async () => {
    // Every power of two of [1, 2^17) and its neighbours: 1 ulp either side, and 2^-8 and 2^-7 below (the zone).
    const xs = quantize(Array.from({ length: 17 }, (_, j) => [1 - 2 ** -7, 1 - 2 ** -8, 1 - 2 ** -18, 1, 1 + 2 ** -18, 1 + 2 ** -8].map((f) => 2 ** j * f)).flat().filter((v) => v >= 1));
    const got = await runNn({ x: { values: [...xs, 0.5, 0] } }, (p, s) => reciprocal(p, s.x, { positive: true, lo: 0, hi: 17, outScale: 40 }), 40);
    const { err, at } = maxRelError(got.slice(0, xs.length), Array.from(xs, (v) => 1 / v));
    console.log(`reciprocal (positive, at the thresholds) max relative error ${err.toExponential(3)} at x = ${xs[at]}`);
    expect(err).toBeLessThanOrEqual(1e-3);
    expect(Array.from(got.slice(xs.length))).toEqual([0, 0]);
    expect(reciprocalCost(1, { positive: true, lo: 0, hi: 17 }).rounds).toBe(6);
  });

  it('signed default range [2^-10, 2^17): relative error <= 1e-3 for both signs; below the range gives 0', async () => {
    const pos = logSweep(-10, 16.9, 300);
    const xs = quantize([...pos, ...pos.map((v) => -v)]);
    const got = await runNn({ x: { values: [...xs, 0, 2 ** -12, -(2 ** -12)] } }, (p, s) => reciprocal(p, s.x, { outScale: 40 }), 40);
    const { err, at } = maxRelError(got.slice(0, xs.length), Array.from(xs, (v) => 1 / v));
    console.log(`reciprocal (signed) max relative error ${err.toExponential(3)} at x = ${xs[at]}`);
    expect(err).toBeLessThanOrEqual(1e-3);
    expect(Array.from(got.slice(xs.length))).toEqual([0, 0, 0]);
  });

  it('declared cost equals measured cost; 12 rounds', async () => {
    for (const n of [1, 33]) {
      const inputs = { x: fixedInput(Array.from({ length: n }, (_, i) => 1 + i * 7.5)) };
      expectCost(await measureOp(inputs, (p, s) => reciprocal(p, s.x)), reciprocalCost(n));
      expectCost(await measureOp(inputs, (p, s) => reciprocal(p, s.x, { positive: true, lo: -1, hi: 9 })), reciprocalCost(n, { positive: true, lo: -1, hi: 9 }));
    }
    expect(reciprocalCost(4096).rounds).toBe(12);
  });

  it('rejects unusable ranges', async () => {
    await expect(runNn({ x: { values: [1] } }, (p, s) => reciprocal(p, s.x, { lo: 3, hi: 3 }))).rejects.toThrow(/lo < hi/);
    await expect(runNn({ x: { values: [1] } }, (p, s) => reciprocal(p, s.x, { lo: -30 }))).rejects.toThrow(/resolution/);
  });
});
