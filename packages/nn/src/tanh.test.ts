import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { tanh, tanhCost } from './tanh.ts';
import { linspace, maxAbsError, quantize, runNn } from './test-support.ts';
import { SELECT_BAND } from './piecewise.ts';

describe('tanh', () => {
  it('within 2e-3 of float64 on [-16, 16], continuous at +-4, saturated out to +-1000', async () => {
    const ulp = 2 ** -18;
    const band = [-4, 4].flatMap((t) => Array.from(linspace(t, t + SELECT_BAND, 9)));
    const xs = new Float64Array([...linspace(-16, 16, 3201), -4 - ulp, -4, 4, 4 + ulp, ...band, 1000, -1000]);
    const got = await runNn({ x: { values: xs } }, (p, s) => tanh(p, s.x));
    const { err, at } = maxAbsError(got, Array.from(quantize(xs), Math.tanh));
    console.log(`tanh max abs error ${err.toExponential(3)} at x = ${xs[at]}`);
    expect(err).toBeLessThanOrEqual(2e-3);
    expect(Math.abs(got[3201] - got[3202])).toBeLessThan(1e-3);
    expect(Math.abs(got[3203] - got[3204])).toBeLessThan(1e-3);
    expect(Array.from(got.slice(-2))).toEqual([1, -1]);
  });

  it('declared cost equals measured cost; 9 rounds', async () => {
    for (const n of [1, 50]) expectCost(await measureOp({ x: fixedInput(linspace(-5, 5, n)) }, (p, s) => tanh(p, s.x)), tanhCost(n));
    expect(tanhCost(4096).rounds).toBe(9);
  });
});
