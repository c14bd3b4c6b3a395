import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { EXP_LANES, expLanes, expLanesCost } from './exp-lanes.ts';
import { expCost } from './exp.ts';
import { linspace, maxAbsError, quantize, runNn } from './test-support.ts';

const BAND = 2 ** -6;

describe('exp by lanes', () => {
  it('each piece\'s float64 polynomial is within 1e-5 of exp on its piece and the band above it', () => {
    const ends = [...EXP_LANES.slice(1).map((l) => l.lo), 0.025];
    EXP_LANES.forEach((l, k) => {
      let err = 0;
      for (const x of linspace(l.lo, ends[k] + BAND, 4001)) {
        const v = (x - l.top) / 2 ** l.shift;
        err = Math.max(err, Math.abs(l.coeffs.reduceRight((s, a) => s * v + a, 0) - Math.exp(x)));
      }
      expect(err).toBeLessThan(1e-5);
    });
  });

  it('sweeps [-14, 0.025] within 1e-4 of float64, the pieces\' bands included, and is exactly 0 from -14 - 2^-6 down to -1000', async () => {
    const bands = EXP_LANES.flatMap((l) => Array.from(linspace(l.lo, l.lo + BAND, 9)));
    const xs = new Float64Array([...linspace(-14, 0, 1401), ...linspace(0, 0.025, 11), ...bands, -14.0157, -20, -100, -1000]);
    const got = await runNn({ x: { values: xs } }, (p, s) => expLanes(p, s.x));
    // In the band [-14, -14 + 2^-6) either 0 or exp(x) < 8.4e-7 may come out, both within the bound.
    const want = Array.from(quantize(xs), (v) => (v < -14 ? 0 : Math.exp(v)));
    const { err, at } = maxAbsError(got, want);
    console.log(`exp by lanes: max abs error ${err.toExponential(3)} at x = ${xs[at]}`);
    expect(err).toBeLessThanOrEqual(1e-4);
    expect(Array.from(got.slice(-4))).toEqual([0, 0, 0, 0]);
  });

  it('keeps the shape of a 3-d input', async () => {
    const xs = linspace(-16, 0, 2 * 3 * 5);
    const got = await runNn({ x: { values: xs, shape: [2, 3, 5] } }, (p, s) => expLanes(p, s.x));
    const want = Array.from(quantize(xs), (v) => (v < -14 ? 0 : Math.exp(v)));
    expect(maxAbsError(got, want).err).toBeLessThanOrEqual(1e-4);
  });

  it('declared cost equals measured cost at odd sizes, below and above the rotating dealers; 5 rounds against 11', async () => {
    for (const n of [1, 101, 3075]) {
      expectCost(await measureOp({ x: fixedInput(linspace(-20, 0, n)) }, (p, s) => expLanes(p, s.x)), expLanesCost(n));
    }
    expect(expLanesCost(4096).rounds).toBe(5);
    expect(expCost(4096).rounds).toBe(11);
    console.log(`exp bytes per element at 4096: lanes ${(expLanesCost(4096).bytes[0] / 4096).toFixed(1)}, squarings ${(expCost(4096).bytes[0] / 4096).toFixed(1)}`);
    // The headers' figures (exp-lanes.ts, softmax.ts): 281 and 91.4 bytes per element for party 0.
    expect(expLanesCost(4096).bytes[0] / 4096).toBeCloseTo(281.44, 2);
    expect(expCost(4096).bytes[0] / 4096).toBeCloseTo(91.4, 1);
  });

  it('refuses more than 18 fraction bits with an error naming them', async () => {
    await expect(runNn({ x: { values: [-1] } }, (p, s) => expLanes(p, s.x), 20, 20)).rejects.toThrow(/fraction bits/);
  });
});
