import { describe, expect, it } from 'vitest';
import { ROTATE_FROM } from '../dealers.ts';
import type { Party } from '../party.ts';
import type { AShare } from '../share.ts';
import { expectCost, measureOp, randomFloats, runWithInputs, termOf } from '../test-support.ts';
import { revealRaw } from './reveal.ts';
import { truncateRing, truncateRingCost, type RingChange } from './truncateRing.ts';

const RINGS: RingChange[] = [
  { inBits: 32, outBits: 32 },
  { inBits: 32, outBits: 64 },
  { inBits: 64, outBits: 32 },
  { inBits: 64, outBits: 64 },
];

const raw = (xs: readonly bigint[]) => ({ values: BigUint64Array.from(xs, (v) => BigInt.asUintN(64, v)), shape: [xs.length] });

/** The 3-of-3 additive term of a replicated x (termOf), truncated. */
function truncateShared(p: Party, x: AShare, d: number, rings: RingChange): Promise<AShare> {
  return truncateRing(p, termOf(p, x), x.shape, d, rings);
}

const asRing = (v: bigint, bits: number) => BigInt.asIntN(bits, v);

describe('truncateRing', () => {
  it('floor(x / 2^d) + {0, 1} in the output ring, for |x| up to the input ring\'s bound 2^(k-2), every ring pair', async () => {
    for (const rings of RINGS) {
      const bound = 1n << BigInt(rings.inBits - 2);
      const xs = [0n, 1n, -1n, 12345n, -98765n, bound - 1n, -bound, bound / 3n, -bound / 5n, ...Array.from(randomFloats(200, -1, 1, 3), (f) => BigInt(Math.round(f * 2 ** 29)) * (bound >> 29n))];
      for (const d of [1, 11, rings.inBits - 3]) {
        const run = await runWithInputs({ x: raw(xs) }, async (p, s) => revealRaw(p, await truncateShared(p, s.x, d, rings)));
        run.results[0].forEach((v, i) => {
          const want = xs[i] >> BigInt(d);
          const diff = asRing(v - BigInt.asUintN(64, want), rings.outBits);
          expect(diff === 0n || diff === 1n, `Z_2^${rings.inBits} -> Z_2^${rings.outBits}, d=${d}, x=${xs[i]}: got ${asRing(v, rings.outBits)}, want ${want}`).toBe(true);
        });
      }
    }
  });

  it('32 -> 64 lifts a negative result into Z_2^64 (the upper half is the sign extension, not garbage)', async () => {
    const xs = [-(1n << 29n), -3n << 20n, 5n << 24n];
    const run = await runWithInputs({ x: raw(xs) }, async (p, s) => revealRaw(p, await truncateShared(p, s.x, 10, { inBits: 32, outBits: 64 })));
    run.results[0].forEach((v, i) => expect(BigInt.asIntN(64, v)).toBe(xs[i] >> 10n));
  });

  it('outside the precondition |x| < 2^30 a 32-bit input gives wrong answers (callers must exclude it)', async () => {
    // y = x + 2^30 leaves [0, 2^31): depending on the mask the result is off by a nonzero multiple of
    // 2^(31 - d) = 2^27 (plus the rounding bit). Here x = +-(2^30 + 2^29 + 2^28), 200 each.
    const far = (1n << 30n) + (1n << 29n) + (1n << 28n);
    const xs = Array.from({ length: 400 }, (_, i) => (i % 2 ? far : -far));
    const run = await runWithInputs({ x: raw(xs) }, async (p, s) => revealRaw(p, await truncateShared(p, s.x, 4, { inBits: 32, outBits: 64 })));
    const step = 1n << 27n;
    let wrong = 0;
    run.results[0].forEach((v, i) => {
      const err = BigInt.asIntN(64, v) - (xs[i] >> 4n);
      const off = ((err % step) + step) % step;
      expect(off === 0n || off === 1n, `x=${xs[i]} err=${err}`).toBe(true);
      if (err >= step || err <= -step + 1n) wrong++;
    });
    expect(wrong).toBeGreaterThan(40);
  });

  it('rounding is unbiased in Z_2^32: mean error of 20000 truncations of x + 0.25 ulp is ~0.25', async () => {
    const n = 20000;
    const xs = Array.from(randomFloats(n, -1e6, 1e6, 7), (v) => BigInt(Math.round(v)) * 4n + 1n);
    const run = await runWithInputs({ x: raw(xs) }, async (p, s) => revealRaw(p, await truncateShared(p, s.x, 2, { inBits: 32, outBits: 32 })));
    let ups = 0;
    run.results[0].forEach((v, i) => { ups += Number(asRing(v - BigInt.asUintN(64, xs[i] >> 2n), 32)); });
    // P[+1] = 1/4; binomial sd = sqrt(n * 3/16) ~ 61, so 6 sd = 370.
    expect(Math.abs(ups - n / 4)).toBeLessThan(370);
  });

  it('declared cost equals measured cost (odd sizes, rotated dealers)', async () => {
    for (const rings of RINGS) {
      for (const n of [1, 333, ROTATE_FROM + 1]) {
        const x = raw(Array.from(randomFloats(n, -1e8, 1e8, n), (v) => BigInt(Math.round(v))));
        expectCost(await measureOp({ x }, (p, s) => truncateShared(p, s.x, 7, rings)), truncateRingCost(n, rings));
      }
    }
  });

  it('sends half the bytes of 64 -> 64 for 32 -> 32 at large n', () => {
    const n = 3 * 4096;
    const b32 = truncateRingCost(n, { inBits: 32, outBits: 32 }).bytes;
    const b64 = truncateRingCost(n, { inBits: 64, outBits: 64 }).bytes;
    expect(b32.map((b, i) => b / b64[i])).toEqual([0.5, 0.5, 0.5]);
  });

  it('rejects shifts and rings out of range', async () => {
    const x = raw([1n]);
    await expect(runWithInputs({ x }, (p, s) => truncateShared(p, s.x, 30, { inBits: 32, outBits: 64 }))).rejects.toThrow(/out of range \[1, 29\] for input ring Z_2\^32/);
    await expect(runWithInputs({ x }, (p, s) => truncateShared(p, s.x, 4, { inBits: 16 as 32, outBits: 64 }))).rejects.toThrow(/Z_2\^16 is not supported/);
  });
});
