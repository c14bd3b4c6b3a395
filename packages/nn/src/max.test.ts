import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp, randomFloats } from '@puma/protocol/test-support';
import { maxLastWide, maxLastWideCost } from './max.ts';
import { quantize, runNn } from './test-support.ts';

describe('maxLastWide', () => {
  it('returns the exact row maximum, ties and padding included, for several arities', async () => {
    const x = quantize([5, 1, 5, -3, 2, 9, 9, 0, -1, 4, 4, 4, 4, 4, -4, -8, -7, -9, -2, -2, -2]);
    for (const arity of [2, 3, 4, 7, 8]) {
      const got = await runNn({ x: { values: x, shape: [3, 7] } }, (p, s) => maxLastWide(p, s.x, arity));
      expect(Array.from(got)).toEqual([9, 4, -2]);
    }
  });

  it('random rows of 37 over leading axes', async () => {
    const x = quantize(randomFloats(2 * 3 * 37, -100, 100, 5));
    const got = await runNn({ x: { values: x, shape: [2, 3, 37] } }, (p, s) => maxLastWide(p, s.x, 4));
    for (let r = 0; r < 6; r++) expect(got[r]).toBe(Math.max(...x.subarray(r * 37, (r + 1) * 37)));
  });

  it('declared cost equals measured cost; 12 rounds per level of 4', async () => {
    const inputs = { x: fixedInput(randomFloats(30, -3, 3, 1), [3, 10]) };
    for (const arity of [2, 3, 4, 8]) expectCost(await measureOp(inputs, (p, s) => maxLastWide(p, s.x, arity)), maxLastWideCost(3, 10, arity));
    expect(maxLastWideCost(32, 128, 4).rounds).toBe(3 * 12 + 11);
  });

  it('rejects bad arities and empty rows', async () => {
    await expect(runNn({ x: { values: [1, 2] } }, (p, s) => maxLastWide(p, s.x, 1))).rejects.toThrow(/arity/);
  });
});
