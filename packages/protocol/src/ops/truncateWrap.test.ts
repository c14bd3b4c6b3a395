import { describe, expect, it } from 'vitest';
import { encodeInts } from '@puma/ring';
import { ROTATE_FROM } from '../dealers.ts';
import { randomFloats, runWithInputs, measureOp, expectCost } from '../test-support.ts';
import { truncate, truncateCost } from './truncateWrap.ts';
import { revealRaw } from './reveal.ts';

const raw = (xs: bigint[]) => ({ values: BigUint64Array.from(xs, (v) => BigInt.asUintN(64, v)), shape: [xs.length] });

describe('truncate (replicated share, wrap of a two-party split)', () => {
  it('floor(x / 2^d) + {0, 1} for raw values up to 2^62 in magnitude, any d; exact on multiples of 2^d', async () => {
    const small = [0, 1, -1, 2 ** 18 - 1, -(2 ** 18), 2 ** 53, -(2 ** 53), 123456789].map((v) => BigInt(v));
    const big = [(1n << 62n) - 1n, -((1n << 62n) - 1n), (1n << 61n) - 1n, -(1n << 61n), 1n << 60n, -((1n << 60n) + 12345n)];
    const xs = [...small, ...big];
    for (const d of [1, 13, 18, 32, 33, 40, 61]) {
      const multiples = [3n, -5n, 1n << 20n, -(1n << 20n)].map((k) => k << BigInt(d)).filter((v) => v < 1n << 62n && v > -(1n << 62n));
      const all = [...xs, ...multiples];
      const run = await runWithInputs({ x: raw(all) }, async (p, s) => revealRaw(p, await truncate(p, s.x, d)));
      run.results[0].forEach((v, i) => {
        const diff = BigInt.asIntN(64, v) - (all[i] >> BigInt(d));
        if (i >= xs.length) expect(diff, `d=${d} multiple x=${all[i]}`).toBe(0n);
        else expect(diff === 0n || diff === 1n, `d=${d} x=${all[i]} got ${BigInt.asIntN(64, v)}`).toBe(true);
      });
    }
  });

  it('rounding is unbiased: P[+1] = frac(x / 2^d) over 20000 truncations each of x + 1/4 and x + 3/4 ulp', async () => {
    const n = 20000;
    const base = randomFloats(n, -1e6, 1e6, 7);
    for (const low of [1, 3]) {
      const xs = Array.from(base, (v) => Math.round(v) * 4 + low);
      const run = await runWithInputs({ x: { values: encodeInts(xs), shape: [n] } }, async (p, s) => revealRaw(p, await truncate(p, s.x, 2)));
      let ups = 0;
      run.results[0].forEach((v, i) => { ups += Number(BigInt.asIntN(64, v) - (BigInt(xs[i]) >> 2n)); });
      // P[+1] = low/4; binomial sd = sqrt(n * 3/16) ~ 61, so 6 sd = 370.
      expect(Math.abs(ups - (n * low) / 4), `x = 4k + ${low}`).toBeLessThan(370);
    }
  });

  it('declared cost equals measured cost, with 32-bit and 64-bit wrap lanes, below and at rotating dealers', async () => {
    for (const n of [1, 333, ROTATE_FROM + 1]) {
      const x = { values: encodeInts(Array.from(randomFloats(n, -1e9, 1e9), Math.round)), shape: [n] };
      for (const d of [18, 40]) expectCost(await measureOp({ x }, (p, s) => truncate(p, s.x, d)), truncateCost(n, d));
    }
  });

  it('sends 4 / 12 / 12 bytes per element below ROTATE_FROM at d <= 32 (the dealer truncation sent 32 / 8 / 8)', () => {
    expect(truncateCost(1000, 18).bytes).toEqual([4000, 12000, 12000]);
    expect(truncateCost(1000, 40).bytes).toEqual([8000, 16000, 16000]);
  });

  it('rejects shifts out of range', async () => {
    await expect(runWithInputs({ x: { values: encodeInts([1]), shape: [1] } }, (p, s) => truncate(p, s.x, 62))).rejects.toThrow(/out of range/);
    expect(() => truncateCost(1, 0)).toThrow(/out of range/);
  });
});
