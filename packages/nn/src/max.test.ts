import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp, randomFloats } from '@puma/protocol/test-support';
import { maxLastWide, maxLastWideCost } from './max.ts';
import { quantize, runNn } from './test-support.ts';

/** Per level the result may sit this far below the true maximum (pairs closer than 3 * 2^-7 go either way). */
const SLACK = 3 * 2 ** -7;

/** Checks that each row's result is one of the row's inputs and within levels * SLACK of its maximum. */
function expectNearMax(got: Float64Array, x: Float64Array, cols: number, levels: number): void {
  for (let r = 0; r < got.length; r++) {
    const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
    const m = Math.max(...row);
    expect(row, `row ${r}`).toContain(got[r]);
    expect(m - got[r], `row ${r}`).toBeLessThanOrEqual(levels * SLACK);
  }
}

describe('maxLastWide', () => {
  it('exact row maximum when the top two are 3 * 2^-7 or more apart, ties and padding included, for several arities', async () => {
    const x = quantize([5, 1, 5, -3, 2, 9, 9, 0, -1, 4, 4, 4, 4, 4, -4, -8, -7, -9, -2, -2, -2]);
    for (const arity of [2, 3, 4, 7, 8, 32]) {
      const got = await runNn({ x: { values: x, shape: [3, 7] } }, (p, s) => maxLastWide(p, s.x, arity));
      expect(Array.from(got)).toEqual([9, 4, -2]);
    }
  });

  it('random rows of 37 and 128 (spread 200) over leading axes: one of the inputs, within SLACK per level of the max', async () => {
    const x = quantize(randomFloats(2 * 3 * 37, -100, 100, 5));
    const got = await runNn({ x: { values: x, shape: [2, 3, 37] } }, (p, s) => maxLastWide(p, s.x));
    expectNearMax(got, x, 37, 2);
    const y = quantize(randomFloats(4 * 128, -100, 100, 6));
    expectNearMax(await runNn({ x: { values: y, shape: [4, 128] } }, (p, s) => maxLastWide(p, s.x)), y, 128, 2);
  });

  it('near ties (rows of 32 within 2^-6 of each other) never lose the row: exactly one winner per group', async () => {
    const rows = 8;
    const x = quantize(Float64Array.from({ length: rows * 32 }, (_, i) => 7 + (((i * 7919) % 97) / 97) * 2 ** -6 - (i % 32 === 5 ? 2 ** -7 : 0)));
    const got = await runNn({ x: { values: x, shape: [rows, 32] } }, (p, s) => maxLastWide(p, s.x));
    expectNearMax(got, x, 32, 1);
  });

  it('the bound: a row spread of 999.95 (the window takes differences below 1024 - 2^-5) still finds the max', async () => {
    const x = quantize([-500, 499.9, 0, 499.95, -500, 12, 3, 4]);
    expect(Array.from(await runNn({ x: { values: x, shape: [1, 8] } }, (p, s) => maxLastWide(p, s.x)))).toEqual([x[3]]);
  });

  it('declared cost equals measured cost; 13 rounds for 32 columns, 23 for 128', async () => {
    const inputs = { x: fixedInput(randomFloats(30, -3, 3, 1), [3, 10]) };
    for (const arity of [2, 3, 4, 8, 32]) expectCost(await measureOp(inputs, (p, s) => maxLastWide(p, s.x, arity)), maxLastWideCost(3, 10, arity));
    expectCost(await measureOp({ x: fixedInput(randomFloats(2 * 128, -3, 3, 2), [2, 128]) }, (p, s) => maxLastWide(p, s.x)), maxLastWideCost(2, 128));
    expect(maxLastWideCost(32, 32).rounds).toBe(13);
    expect(maxLastWideCost(32, 128).rounds).toBe(23);
  });

  it('rejects bad arities and empty rows', async () => {
    await expect(runNn({ x: { values: [1, 2] } }, (p, s) => maxLastWide(p, s.x, 1))).rejects.toThrow(/arity/);
    await expect(runNn({ x: { values: [], shape: [2, 0] } }, (p, s) => maxLastWide(p, s.x))).rejects.toThrow(/empty/);
  });
});
