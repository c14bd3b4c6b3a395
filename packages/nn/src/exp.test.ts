import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { exp, expCost } from './exp.ts';
import { linspace, maxAbsError, quantize, runNn } from './test-support.ts';
import { SELECT_BAND } from './piecewise.ts';

describe('exp', () => {
  it("sweeps [-14, 0.025] within 6e-4 of float64 (softmax's narrow max can leave x up to 0.0234 above 0), and is exactly 0 from -14 - 2^-6 down to -1000", async () => {
    const xs = new Float64Array([...linspace(-14, 0, 1401), ...linspace(0, 0.025, 11), ...linspace(-14, -14 + SELECT_BAND, 9), -14.0157, -20, -100, -1000]);
    const got = await runNn({ x: { values: xs } }, (p, s) => exp(p, s.x));
    // In the band [-14, -14 + 2^-6) either piece may be chosen: 0 or exp(x) < 8.4e-7, both within the bound.
    // The bound: P, P^2 and P^4 rounded to 2^-15 in Z_2^32, amplified 8 + 4 + 2 times, at most 4.3e-4 (exp.ts).
    const want = Array.from(quantize(xs), (v) => (v < -14 ? 0 : Math.exp(v)));
    const { err, at } = maxAbsError(got, want);
    console.log(`exp max abs error ${err.toExponential(3)} at x = ${xs[at]}`);
    expect(err).toBeLessThanOrEqual(6e-4);
    expect(Array.from(got.slice(-4))).toEqual([0, 0, 0, 0]);
  });

  it('keeps the shape of a 3-d input (softmax passes [heads, rows, cols]) and its values', async () => {
    const xs = linspace(-16, 0, 2 * 3 * 5);
    const got = await runNn({ x: { values: xs, shape: [2, 3, 5] } }, (p, s) => exp(p, s.x));
    const want = Array.from(quantize(xs), (v) => (v < -14 ? 0 : Math.exp(v)));
    expect(maxAbsError(got, want).err).toBeLessThanOrEqual(6e-4);
  });

  it('declared cost equals measured cost at odd sizes, below and above the rotating dealers (3072), 11 rounds', async () => {
    for (const n of [1, 101, 3075]) {
      expectCost(await measureOp({ x: fixedInput(linspace(-20, 0, n)) }, (p, s) => exp(p, s.x)), expCost(n));
    }
    expect(expCost(4096).rounds).toBe(11);
  });
});
