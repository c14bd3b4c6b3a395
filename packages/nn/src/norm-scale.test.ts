import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { normScale, normScaleCost, normScalePlan } from './norm-scale.ts';
import { logSweep, maxRelError, runNn } from './test-support.ts';

// The norms' plans at 18 fraction bits (S at 36): GPT-2-like (n = 768, eps 1e-5) and BERT-like (eps 1e-12,
// whose 60 octaves need two lane groups).
const GPT2 = normScalePlan({ lo: -8, hi: 26, xScale: 36, constant: Math.sqrt(768), outBound: 2 ** 12 });
const WIDE = normScalePlan({ lo: -34, hi: 26, xScale: 36, constant: Math.sqrt(768), outBound: 2 ** 12 });

async function sweep(plan: typeof GPT2, lo: number): Promise<void> {
  const xs = logSweep(lo, 25.99, 400).map((v) => Math.round(v * 2 ** 36) / 2 ** 36);
  const below = 2 ** (plan.o.lo - 1);
  const got = await runNn({ x: { values: [...xs, below] } }, (p, s) => normScale(p, s.x, plan), plan.rScale, 36);
  const { err, at } = maxRelError(got.slice(0, xs.length), xs.map((v) => plan.o.constant / Math.sqrt(v)));
  console.log(`normScale [2^${plan.o.lo}, 2^${plan.o.hi}) (${plan.groups.length} lane groups): max relative error ${err.toExponential(3)} at S = ${xs[at]}`);
  expect(err).toBeLessThanOrEqual(2e-4);
  expect(got[xs.length]).toBe(0);
}

describe('normScale', () => {
  it('relative error <= 2e-4 against float64 C / sqrt(S) over the whole domain [2^-8, 2^26); below it gives 0', () => sweep(GPT2, -8));

  it('a 60-octave domain [2^-34, 2^26) in two lane groups: relative error <= 2e-4', async () => {
    expect(WIDE.groups.length).toBe(2);
    await sweep(WIDE, -34);
  });

  it('declared cost equals measured cost at 1, 7 and 100 rows (100 x 34 lane values: rotating dealers); 10 rounds', async () => {
    for (const n of [1, 7, 100]) {
      const values = Array.from({ length: n }, (_, i) => 0.01 * 1.37 ** i);
      expectCost(await measureOp({ x: fixedInput(values, [n], 36) }, (p, s) => normScale(p, s.x, GPT2)), normScaleCost(n, GPT2));
    }
    expect(normScaleCost(4096, GPT2).rounds).toBe(10);
    expect(normScaleCost(3, WIDE).rounds).toBe(10);
  });

  it('rejects a domain that does not fit', () => {
    expect(() => normScalePlan({ lo: -8, hi: 27, xScale: 36, constant: 1, outBound: 4096 })).toThrow(/does not fit below 2\^62/);
    expect(() => normScalePlan({ lo: -40, hi: 20, xScale: 36, constant: 1, outBound: 4096 })).toThrow(/below the resolution/);
    expect(() => normScalePlan({ lo: 3, hi: 3, xScale: 36, constant: 1, outBound: 4096 })).toThrow(/lo < hi/);
    expect(() => normScalePlan({ lo: -8, hi: 26, xScale: 36, constant: 1, outBound: 2 ** 40 })).toThrow(/does not fit in the ring/);
  });
});
