import { describe, expect, it } from 'vitest';
import { encodeInts } from '@puma/ring';
import { randomFloats, runWithInputs, measureOp, expectCost, termOf } from '../test-support.ts';
import { truncateProduct, truncateProductCost } from './truncate.ts';
import { revealRaw } from './reveal.ts';


describe('truncateProduct (3-of-3 additive input, dealer TruncPr)', () => {
  it('floor(z / 2^d) + {0, 1} for raw values up to 2^61 in magnitude, any d', async () => {
    const xs = [0n, 1n, -1n, 262143n, -262144n, 1n << 53n, -(1n << 53n), (1n << 61n) - 1n, -(1n << 61n), -((1n << 60n) + 12345n)];
    for (const d of [1, 18, 40]) {
      const run = await runWithInputs({ x: { values: BigUint64Array.from(xs, (v) => BigInt.asUintN(64, v)), shape: [xs.length] } },
        async (p, s) => revealRaw(p, await truncateProduct(p, termOf(p, s.x), s.x.shape, d)));
      run.results[0].forEach((v, i) => {
        const diff = BigInt.asIntN(64, v) - (xs[i] >> BigInt(d));
        expect(diff === 0n || diff === 1n, `d=${d} x=${xs[i]} got ${BigInt.asIntN(64, v)}`).toBe(true);
      });
    }
  });

  it('rounding is unbiased: mean error of 20000 truncations of z + 0.25 ulp is ~0.25', async () => {
    const n = 20000;
    const xs = Array.from(randomFloats(n, -1e6, 1e6, 7), (v) => Math.round(v) * 4 + 1);
    const run = await runWithInputs({ x: { values: encodeInts(xs), shape: [n] } }, async (p, s) => revealRaw(p, await truncateProduct(p, termOf(p, s.x), s.x.shape, 2)));
    let ups = 0;
    run.results[0].forEach((v, i) => { ups += Number(BigInt.asIntN(64, v) - (BigInt(xs[i]) >> 2n)); });
    // P[+1] = 1/4; binomial sd = sqrt(n * 3/16) ~ 61, so 6 sd = 370.
    expect(Math.abs(ups - n / 4)).toBeLessThan(370);
  });

  it('declared cost equals measured cost', async () => {
    for (const n of [1, 333]) {
      const x = { values: encodeInts(Array.from(randomFloats(n, -1e9, 1e9), Math.round)), shape: [n] };
      expectCost(await measureOp({ x }, (p, s) => truncateProduct(p, termOf(p, s.x), s.x.shape)), truncateProductCost(n));
    }
  });

  it('rejects shifts out of range', async () => {
    await expect(runWithInputs({ x: { values: encodeInts([1]), shape: [1] } }, (p, s) => truncateProduct(p, termOf(p, s.x), s.x.shape, 62))).rejects.toThrow(/out of range/);
  });
});
