import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { exp, expCost } from './exp.ts';
import { linspace, maxAbsError, quantize, runNn } from './test-support.ts';
import { SELECT_BAND } from './piecewise.ts';

describe('exp', () => {
  it("sweeps [-14, 0.025] within 2e-5 of float64 (softmax's narrow max can leave x up to 0.0234 above 0), and is exactly 0 from -14 - 2^-6 down to -1000", async () => {
    const xs = new Float64Array([...linspace(-14, 0, 1401), ...linspace(0, 0.025, 11), ...linspace(-14, -14 + SELECT_BAND, 9), -14.0157, -20, -100, -1000]);
    const got = await runNn({ x: { values: xs } }, (p, s) => exp(p, s.x));
    // In the band [-14, -14 + 2^-6) either piece may be chosen: 0 or exp(x) < 8.4e-7, both within the bound.
    const want = Array.from(quantize(xs), (v) => (v < -14 ? 0 : Math.exp(v)));
    const { err, at } = maxAbsError(got, want);
    console.log(`exp max abs error ${err.toExponential(3)} at x = ${xs[at]}`);
    expect(err).toBeLessThanOrEqual(2e-5);
    expect(Array.from(got.slice(-4))).toEqual([0, 0, 0, 0]);
  });

  it('declared cost equals measured cost, 11 rounds', async () => {
    for (const n of [1, 100]) {
      expectCost(await measureOp({ x: fixedInput(linspace(-20, 0, n)) }, (p, s) => exp(p, s.x)), expCost(n));
    }
    expect(expCost(4096).rounds).toBe(11);
  });
});
