import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { silu, siluCost, siluPuma, siluPumaCost } from './silu.ts';
import { silu as siluRef } from './reference.ts';
import { linspace, maxAbsError, quantize, runNn } from './test-support.ts';
import { SELECT_BAND } from './piecewise.ts';

const ULP = 2 ** -18;
/** Points across the band past each breakpoint where the narrow comparison may pick the lower piece (piecewise.ts). */
const band = (ts: number[]) => ts.flatMap((t) => Array.from(linspace(t, t + SELECT_BAND, 9)));
/** [-16, 16], then each joint (-12, -5, 5, 12) one ulp below, at and one ulp above, the bands past them, then the ends of the domain. */
const JOINTS = [-12, -5, 5, 12];
const sweep = new Float64Array([...linspace(-16, 16, 3201), ...JOINTS.flatMap((j) => [j - ULP, j, j + ULP]), 4 + ULP, ...band(JOINTS), 1000, -1000]);

describe('silu', () => {
  it('within 2e-4 of float64 on [-16, 16] and at +-1000, continuous at the joints', async () => {
    const got = await runNn({ x: { values: sweep } }, (p, s) => silu(p, s.x));
    const { err, at } = maxAbsError(got, Array.from(quantize(sweep), siluRef));
    console.log(`silu max abs error ${err.toExponential(3)} at x = ${sweep[at]}`);
    expect(err).toBeLessThanOrEqual(2e-4);
    // Across each joint (two ulps apart) the result moves by the slope times 2 ulps plus fixed-point rounding:
    // below 1e-4, where a jump like PUMA's would show as 0.07.
    JOINTS.forEach((_, k) => expect(Math.abs(got[3201 + 3 * k + 2] - got[3201 + 3 * k])).toBeLessThan(1e-4));
  });

  it("PUMA's pieces jump by 0.072 just above 4 (past the selection band)", async () => {
    const got = await runNn({ x: { values: sweep } }, (p, s) => siluPuma(p, s.x));
    const { err, at } = maxAbsError(got, Array.from(quantize(sweep), siluRef));
    console.log(`siluPuma max abs error ${err.toExponential(3)} at x = ${sweep[at]}`);
    expect(err).toBeGreaterThan(0.07);
    // Just past 4 + SELECT_BAND: inside the band the narrow comparison may still pick the (accurate) middle piece.
    expect(sweep[at]).toBeGreaterThan(4);
    expect(sweep[at]).toBeLessThanOrEqual(4.01 + SELECT_BAND);
  });

  it('declared cost equals measured cost; 6 rounds by tables and b2a on a few hundred elements, 8 by the circuit', async () => {
    for (const n of [1, 70]) {
      const inputs = { x: fixedInput(linspace(-9, 9, n)) };
      expectCost(await measureOp(inputs, (p, s) => silu(p, s.x)), siluCost(n));
      expectCost(await measureOp(inputs, (p, s) => siluPuma(p, s.x)), siluPumaCost(n));
    }
    expect(siluCost(128).rounds).toBe(6);
    expect(siluCost(4096).rounds).toBe(8);
  });
});
