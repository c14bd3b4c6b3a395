/**
 * b2a into Z_2^32 (b2a.ts with outBits 32): exact modulo 2^32, declared cost equal to measured below and above
 * the size where the dealers rotate, and the views: no leak, and the planted leaks (a dealer mask its receiver
 * can compute, a resharing without the zero sharing) reported at the party they reach.
 */
import { describe, expect, it } from 'vitest';
import { ROTATE_FROM } from '../dealers.ts';
import type { Party } from '../party.ts';
import type { AShare, BShare } from '../share.ts';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '../test-support.ts';
import { assertNoLeak, bitsViewInput, dealerMaskFromAsKey, describeReports, NoZeroShareParty, simulateViews, type ViewProgram } from '../view-test-support.ts';
import { b2a, b2aCost } from './b2a.ts';
import { lessThan } from './lessThan.ts';
import { revealRaw } from './reveal.ts';

const compared = (n: number, seed: number) => {
  const x = randomFloats(n, -1, 1, seed);
  return { x, inputs: { x: fixedInput(x), y: fixedInput(new Float64Array(n)) } };
};
const bit = (p: Party, s: Record<string, AShare>) => lessThan(p, s.x, s.y);

describe('b2a into Z_2^32', () => {
  it.each([[5], [ROTATE_FROM + 7]])('%i bits: each result is the bit modulo 2^32', async (n) => {
    const { x, inputs } = compared(n, 21);
    const run = await runWithInputs(inputs, async (p, s) => revealRaw(p, await b2a(p, await bit(p, s), 32)));
    run.results[0].forEach((v, i) => expect(BigInt.asUintN(32, v)).toBe(Math.round(x[i] * 2 ** 18) < 0 ? 1n : 0n));
  });

  it('declared cost equals measured cost at odd sizes, with and without rotating dealers; half of b2a into Z_2^64 at large n', async () => {
    for (const n of [1, 7, 64, ROTATE_FROM + 5]) {
      const { inputs } = compared(n, 23);
      expectCost(await measureOp(inputs, (p, _s, bits: BShare) => b2a(p, bits, 32), bit), b2aCost(n, 32));
    }
    const [wide, narrow] = [b2aCost(30000), b2aCost(30000, 32)];
    wide.bytes.forEach((b, i) => expect(narrow.bytes[i] / b).toBeCloseTo(0.5, 3));
    expect(narrow.rounds).toBe(2);
  });

  it('rejects an unsupported ring with an error naming it', async () => {
    const { inputs } = compared(3, 25);
    await expect(runWithInputs(inputs, async (p, s) => b2a(p, await bit(p, s), 16 as 32))).rejects.toThrow(/Z_2\^16 is not supported/);
  });

  const program: ViewProgram<AShare> = (p, s) => b2a(p, s.b as BShare, 32);
  const leaking = (reports: Awaited<ReturnType<typeof simulateViews>>) => reports.filter((r) => r.leaks > 0 || r.details.length > 0).map((r) => r.observer);

  it.each([[64], [ROTATE_FROM]])('view simulation at %i bits: no received lane depends on the secret without the missing key', async (n) => {
    const reports = await simulateViews({ b: bitsViewInput(n, 31) }, program);
    assertNoLeak(reports, 'some');
  });

  it('planted mutants: a dealer masking with its receiver\'s key leaks to that receiver (dealer 0 at 64 bits, dealer 1 once they rotate); no zero sharing leaks too', async () => {
    const d0 = await simulateViews({ b: bitsViewInput(64, 33) }, program, { backend: dealerMaskFromAsKey(0) });
    expect(leaking(d0), describeReports(d0)).toEqual([1]);
    const d1 = await simulateViews({ b: bitsViewInput(ROTATE_FROM, 35) }, program, { backend: dealerMaskFromAsKey(1) });
    expect(leaking(d1), describeReports(d1)).toEqual([2]);
    const noZero = await simulateViews({ b: bitsViewInput(64, 37) }, program, { party: (o) => new NoZeroShareParty(o) });
    expect(leaking(noZero).length, describeReports(noZero)).toBeGreaterThan(0);
  });
});
