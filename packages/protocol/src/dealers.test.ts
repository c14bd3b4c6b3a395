/**
 * Rotating dealers (dealers.ts) at a size where they rotate: truncation, the fused multiplication and b2a stay
 * correct, their declared cost equals the measured cost, and the three parties send within 1% of each other.
 */
import { describe, expect, it } from 'vitest';
import { encodeInts } from '@puma/ring';
import { dealerChunks, ROTATE_FROM } from './dealers.ts';
import { b2a, b2aCost } from './ops/b2a.ts';
import { lessThan } from './ops/lessThan.ts';
import { mul, mulCost } from './ops/mul.ts';
import { revealRaw } from './ops/reveal.ts';
import { truncate, truncateCost } from './ops/truncateWrap.ts';
import type { Party } from './party.ts';
import type { AShare, BShare } from './share.ts';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs, type Measured } from './test-support.ts';

const n = ROTATE_FROM + 2;

function expectBalanced(m: Measured): void {
  expect(Math.max(...m.bytes) / Math.min(...m.bytes)).toBeLessThan(1.01);
}

describe('rotating dealers', () => {
  it('dealerChunks: party 0 deals everything below ROTATE_FROM, otherwise sizes within one', () => {
    expect(dealerChunks(0)).toEqual([0, 0, 0]);
    expect(dealerChunks(ROTATE_FROM - 1)).toEqual([ROTATE_FROM - 1, 0, 0]);
    expect(dealerChunks(ROTATE_FROM)).toEqual([ROTATE_FROM / 3, ROTATE_FROM / 3, ROTATE_FROM / 3]);
    expect(dealerChunks(n)).toEqual([ROTATE_FROM / 3 + 1, ROTATE_FROM / 3 + 1, ROTATE_FROM / 3]);
  });

  it(`truncation of ${n} elements: floor(x / 2^d) + {0, 1}, declared cost, balanced`, async () => {
    const xs = Array.from(randomFloats(n, -1e12, 1e12, 3), Math.round);
    const x = { values: encodeInts(xs), shape: [n] };
    const run = await runWithInputs({ x }, async (p, s) => revealRaw(p, await truncate(p, s.x, 13)));
    run.results[0].forEach((v, i) => {
      const diff = BigInt.asIntN(64, v) - (BigInt(xs[i]) >> 13n);
      expect(diff === 0n || diff === 1n, `x=${xs[i]}`).toBe(true);
    });
    const m = await measureOp({ x }, (p, s) => truncate(p, s.x));
    expectCost(m, truncateCost(n));
    expectBalanced(m);
  });

  it(`mul of ${n} elements (truncation fused after the product): within 1 ulp, declared cost, balanced`, async () => {
    const a = randomFloats(n, -30, 30, 4);
    const b = randomFloats(n, -30, 30, 5);
    const inputs = { a: fixedInput(a), b: fixedInput(b) };
    const run = await runWithInputs(inputs, async (p, s) => revealRaw(p, await mul(p, s.a, s.b)));
    const q = (v: number) => Math.round(v * 2 ** 18);
    run.results[0].forEach((v, i) => expect(Math.abs(Number(BigInt.asIntN(64, v)) - (q(a[i]) * q(b[i])) / 2 ** 18)).toBeLessThanOrEqual(1));
    const m = await measureOp(inputs, (p, s) => mul(p, s.a, s.b));
    expectCost(m, mulCost(n));
    expectBalanced(m);
  });

  it(`b2a of ${n} bits: exact, declared cost, balanced`, async () => {
    const x = randomFloats(n, -1, 1, 6);
    const xy = { x: fixedInput(x), y: fixedInput(new Float64Array(n)) };
    const run = await runWithInputs(xy, async (p, s) => revealRaw(p, await b2a(p, await lessThan(p, s.x, s.y))));
    run.results[0].forEach((v, i) => expect(v).toBe(Math.round(x[i] * 2 ** 18) < 0 ? 1n : 0n));
    const bit = (p: Party, s: Record<string, AShare>) => lessThan(p, s.x, s.y);
    const m = await measureOp(xy, (p, _s, bits: BShare) => b2a(p, bits), bit);
    expectCost(m, b2aCost(n));
    expectBalanced(m);
  });
});
