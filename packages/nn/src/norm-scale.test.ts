import { describe, expect, it } from 'vitest';
import { mulPublicInt } from '@puma/protocol';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { ZERO_COST } from './fixed.ts';
import { mulTruncCost } from './fused.ts';
import { normScale, normScaleCost, normScalePlan, normScaleTimes, normScaleTimesCost } from './norm-scale.ts';
import { logSweep, maxAbsError, maxRelError, runNn } from './test-support.ts';

// The norms' plans at 18 fraction bits (S at 36): GPT-2-like (n = 768, eps 1e-5, 34 octaves in 5 lane groups)
// and BERT-like (eps 1e-12, 60 octaves in 8 groups of at most 8 octaves).
const GPT2 = normScalePlan({ lo: -8, hi: 26, xScale: 36, constant: Math.sqrt(768), outBound: 2 ** 12 });
const WIDE = normScalePlan({ lo: -34, hi: 26, xScale: 36, constant: Math.sqrt(768), outBound: 2 ** 12 });
// Published windows (models norm-windows.ts): 10 octaves compare in 6 rounds, 20 in 7.
const NARROW = normScalePlan({ lo: 2, hi: 12, xScale: 36, constant: Math.sqrt(768), outBound: 2 ** 12 });
const MEDIUM = normScalePlan({ lo: -3, hi: 17, xScale: 36, constant: Math.sqrt(768), outBound: 2 ** 12 });
// Rows of small variance (gpt2-shakespeare's first layer, n = 128): R at MIN_R_SCALE, 17 bits, not 15.
const SMALL = normScalePlan({ lo: -6, hi: 4, xScale: 36, constant: Math.sqrt(128), outBound: 2 ** 12 });

async function sweep(plan: typeof GPT2, lo: number, hi = 25.99): Promise<void> {
  const xs = logSweep(lo, hi, 400).map((v) => Math.round(v * 2 ** 36) / 2 ** 36);
  const below = 2 ** (plan.o.lo - 1);
  const got = await runNn({ x: { values: [...xs, below] } }, (p, s) => normScale(p, s.x, plan), plan.rScale, 36);
  const { err, at } = maxRelError(got.slice(0, xs.length), xs.map((v) => plan.o.constant / Math.sqrt(v)));
  console.log(`normScale [2^${plan.o.lo}, 2^${plan.o.hi}) (${plan.groups.length} lane groups): max relative error ${err.toExponential(3)} at S = ${xs[at]}`);
  expect(err).toBeLessThanOrEqual(2e-4);
  expect(got[xs.length]).toBe(0);
}

describe('normScale', () => {
  it('relative error <= 2e-4 against float64 C / sqrt(S) over the whole domain [2^-8, 2^26); below it gives 0', () => sweep(GPT2, -8));

  it('a 60-octave domain [2^-34, 2^26) in eight lane groups: relative error <= 2e-4', async () => {
    expect(GPT2.groups.length).toBe(5);
    expect(WIDE.groups.length).toBe(8);
    await sweep(WIDE, -34);
  });

  it('narrow windows: [2^2, 2^12) on 18 bits, [2^-3, 2^17) on 28, [2^-6, 2^4) at 17 bits of R; relative error <= 2e-4 over each, 0 below', async () => {
    expect(NARROW.window).toEqual({ drop: 31, bits: 18, tables: true });
    expect(MEDIUM.window).toEqual({ drop: 26, bits: 28, tables: true });
    await sweep(NARROW, 2, 11.999);
    await sweep(MEDIUM, -3, 16.999);
    expect(SMALL.rScale).toBe(17);
    await sweep(SMALL, -6, 3.999);
  });

  it('narrow windows: declared cost equals measured at 1 and 100 rows (1000 and 2000 lane values); 5 rounds on both (3 chain levels beside 2 table rounds, then the selection by the dealer and the resharing)', async () => {
    for (const [plan, n] of [[NARROW, 1], [NARROW, 100], [MEDIUM, 100]] as const) {
      const values = Array.from({ length: n }, (_, i) => 2 ** (plan.o.lo + ((i + 0.5) * (plan.o.hi - plan.o.lo)) / n));
      expectCost(await measureOp({ x: fixedInput(values, [n], 36) }, (p, s) => normScale(p, s.x, plan)), normScaleCost(n, plan));
    }
    expect(normScaleCost(4096, NARROW).rounds).toBe(5);
    expect(normScaleCost(4096, MEDIUM).rounds).toBe(5);
    // normScaleTimes waits for the lanes and their product (4 + 2) whatever the comparison: later there.
    expect(normScaleTimesCost(1, 768, NARROW, mulTruncCost(768)).rounds).toBe(8);
  });

  it('declared cost equals measured cost at 1, 7 and 100 rows (100 x 34 lane values: rotating dealers); 10 rounds', async () => {
    for (const n of [1, 7, 100]) {
      const values = Array.from({ length: n }, (_, i) => 0.01 * 1.37 ** i);
      expectCost(await measureOp({ x: fixedInput(values, [n], 36) }, (p, s) => normScale(p, s.x, GPT2)), normScaleCost(n, GPT2));
    }
    expect(normScaleCost(4096, GPT2).rounds).toBe(10);
    expect(normScaleCost(3, WIDE).rounds).toBe(10);
  });

  it('normScaleTimes: m R / 2^bits within 2e-4 relative plus 2^-17 of float64, rows over the domain, m of both signs', async () => {
    // 24 rows, S from 2^-7.9 to 2^25.9; m at mScale (passed at the session's 36 bits as m 2^(mScale - 36))
    // holds values whose product with R is at most 16.
    const rows = 24;
    const cols = 5;
    const ss = Array.from({ length: rows }, (_, r) => Math.round(2 ** (-7.9 + (r * 33.8) / (rows - 1)) * 2 ** 36) / 2 ** 36);
    const want: number[] = [];
    const ms: number[] = [];
    ss.forEach((s, r) => {
      for (let i = 0; i < cols; i++) {
        const y = (i - 2) * 3.7 + r / 8;
        const m = Math.round((y * Math.sqrt(s)) / GPT2.o.constant * 2 ** GPT2.mScale) / 2 ** GPT2.mScale;
        ms.push(m);
        want.push((m * GPT2.o.constant) / Math.sqrt(s));
      }
    });
    const bits = GPT2.mScale + GPT2.rScale - 18;
    const got = await runNn(
      { s: { values: ss }, m: { values: ms.map((m) => m * 2 ** (GPT2.mScale - 36)), shape: [rows, cols] } },
      (p, x) => normScaleTimes(p, x.s, async () => x.m, GPT2, bits),
      18,
      36,
    );
    const rel = Math.max(...want.map((w, i) => Math.abs(got[i] - w) / (Math.abs(w) + 2 ** -17 / 2e-4)));
    const { err } = maxAbsError(got, want);
    console.log(`normScaleTimes: max abs error ${err.toExponential(3)}, relative (plus 2^-17) ${rel.toExponential(3)}`);
    expect(rel).toBeLessThanOrEqual(2e-4);
  });

  it('normScaleTimes: declared cost equals measured at 1 and 3 rows (3 x 34 x 40 products: rotating dealers); 10 rounds with m in 2', async () => {
    for (const [rows, cols] of [[1, 3], [3, 40]]) {
      const values = Array.from({ length: rows }, (_, i) => 0.01 * 9.1 ** i);
      const m = Array.from({ length: rows * cols }, (_, i) => 2 ** -20 * (i - 7));
      const measured = await measureOp(
        { s: fixedInput(values, [rows], 36), m: fixedInput(m, [rows, cols], 36) },
        (p, x) => normScaleTimes(p, x.s, (b) => Promise.resolve(mulPublicInt(b, x.m, 1)), GPT2, 20),
      );
      expectCost(measured, normScaleTimesCost(rows, cols, GPT2, ZERO_COST));
    }
    expect(normScaleTimesCost(1, 768, GPT2, mulTruncCost(768)).rounds).toBe(10);
  });

  it('rejects a domain that does not fit', () => {
    expect(() => normScalePlan({ lo: -8, hi: 27, xScale: 36, constant: 1, outBound: 4096 })).toThrow(/does not fit below 2\^62/);
    expect(() => normScalePlan({ lo: -40, hi: 20, xScale: 36, constant: 1, outBound: 4096 })).toThrow(/below the resolution/);
    expect(() => normScalePlan({ lo: 3, hi: 3, xScale: 36, constant: 1, outBound: 4096 })).toThrow(/lo < hi/);
    expect(() => normScalePlan({ lo: -8, hi: 26, xScale: 36, constant: 1, outBound: 2 ** 40 })).toThrow(/does not fit in the ring/);
  });
});
