import { describe, expect, it } from 'vitest';
import { decodeFixed } from '@puma/ring';
import { concatFlat, revealRaw, truncate, truncateCost, type AShare, type Party } from '@puma/protocol';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '@puma/protocol/test-support';
import { maxLastWide, maxLastWideBeside, maxLastWideBesideCost, maxLastWideCost } from './max.ts';
import { quantize, runNn } from './test-support.ts';
import { LAN_BYTES_PER_ROUND } from './fixed.ts';

/** Per level the result may sit this far below the true maximum (pairs closer than 3 * 2^-7 go either way). */
const SLACK = 3 * 2 ** -7;

/** Checks that each row's result is one of the row's inputs and within levels * (SLACK + extra) of its maximum. */
function expectNearMax(got: Float64Array, x: Float64Array, cols: number, levels: number, extra = 0): void {
  for (let r = 0; r < got.length; r++) {
    const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
    const m = Math.max(...row);
    expect(row, `row ${r}`).toContain(got[r]);
    expect(m - got[r], `row ${r}`).toBeLessThanOrEqual(levels * (SLACK + extra));
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

  it('declared cost equals measured cost; 3 rounds for 32 columns, 6 for 128 (levels by protocol tableMax)', async () => {
    const inputs = { x: fixedInput(randomFloats(30, -3, 3, 1), [3, 10]) };
    for (const arity of [2, 3, 4, 8, 32]) expectCost(await measureOp(inputs, (p, s) => maxLastWide(p, s.x, arity)), maxLastWideCost(3, 10, arity));
    expectCost(await measureOp({ x: fixedInput(randomFloats(2 * 128, -3, 3, 2), [2, 128]) }, (p, s) => maxLastWide(p, s.x)), maxLastWideCost(2, 128));
    expect(maxLastWideCost(32, 32).rounds).toBe(3);
    expect(maxLastWideCost(32, 128).rounds).toBe(6);
  });

  it('plans as few levels as before, then the least LAN time (rounds x 625 KB + bytes): small groups first', () => {
    // 128 columns: two levels by tableMax, 6 rounds, 47,680 bytes from party 0 (it deals every group of one row).
    expect(maxLastWideCost(1, 128)).toEqual({ rounds: 6, bytes: [47680, 832, 832] });
    // Session 13's planner (as many columns per group as the AND depth allows) on the same shapes: rounds, bytes.
    const before: Array<[rows: number, cols: number, rounds: number, bytes: number]> = [
      [1, 33, 21, 2592], [1, 37, 21, 2752], [1, 48, 22, 3400], [1, 64, 22, 4216], [1, 100, 23, 8568], [1, 128, 23, 11096],
      [1, 200, 24, 17104], [1, 512, 25, 69880], [384, 64, 22, 1412928], [1536, 128, 23, 16581888],
    ];
    const lanTime = (rounds: number, bytes: number) => rounds * LAN_BYTES_PER_ROUND + bytes;
    for (const [rows, cols, rounds, bytes] of before) {
      const now = maxLastWideCost(rows, cols);
      expect(lanTime(now.rounds, now.bytes[0]), `${rows} x ${cols}`).toBeLessThan(lanTime(rounds, bytes));
    }
    // 384 rows of 64 (GPT-2-base's 12 heads at 64 tokens) and one row take two tableMax levels, 6 rounds.
    expect(maxLastWideCost(384, 64).rounds).toBe(6);
    expect(maxLastWideCost(1, 64).rounds).toBe(6);
    // Tables only while their extra bytes cost less than the rounds they save on the LAN: BERT-base's 1,536 rows
    // of 128 take the first level by the tournament on carry-circuit comparisons (8 rounds more than one row).
    expect(maxLastWideCost(1536, 128).rounds).toBe(maxLastWideCost(1, 128).rounds + 8);
  });

  it('rejects bad arities and empty rows', async () => {
    await expect(runNn({ x: { values: [1, 2] } }, (p, s) => maxLastWide(p, s.x, 1))).rejects.toThrow(/arity/);
    await expect(runNn({ x: { values: [], shape: [2, 0] } }, (p, s) => maxLastWide(p, s.x))).rejects.toThrow(/empty/);
  });
});

/** maxLastWideBeside comparing x at 36 fraction bits and picking its truncation: [max, values] revealed at 18 bits. */
async function besideOnProduct(x: ArrayLike<number>, shape: readonly number[], arity?: number): Promise<{ max: Float64Array; values: Float64Array }> {
  const run = await runWithInputs({ x: fixedInput(x, shape, 36) }, async (p: Party, s: Record<string, AShare>) => {
    const r = await maxLastWideBeside(p, s.x, 36, (q) => truncate(q, s.x), arity);
    return decodeFixed(await revealRaw(p, concatFlat(p, [r.max, r.values])), 18);
  });
  const out = run.results[0];
  const rows = out.length - x.length;
  return { max: out.subarray(0, rows), values: out.subarray(rows) };
}

describe('maxLastWideBeside (first level compares the product at 2f, picks its truncation)', () => {
  it('picks one of the truncated values, within SLACK + 1 ulp per level of their max: exact gaps, near ties, 2 levels, the 999.95 bound', async () => {
    const exact = await besideOnProduct([5, 1, 5, -3, 2, 9, 9, 0, -1, 4, 4, 4, 4, 4, -4, -8, -7, -9, -2, -2, -2], [3, 7], 4);
    expect(Array.from(exact.max)).toEqual([9, 4, -2]);
    const ties = Float64Array.from({ length: 8 * 32 }, (_, i) => 7 + (((i * 7919) % 97) / 97) * 2 ** -6 + (((i * 31) % 13) / 13) * 2 ** -18);
    const near = await besideOnProduct(ties, [8, 32]);
    expectNearMax(near.max, near.values, 32, 1, 2 ** -18);
    const wide = randomFloats(4 * 128, -100, 100, 6);
    const two = await besideOnProduct(wide, [4, 128]);
    expect(Math.max(...Array.from(two.values, (v, i) => Math.abs(v - wide[i])))).toBeLessThanOrEqual(2 ** -18);
    expectNearMax(two.max, two.values, 128, 2, 2 ** -18);
    const bound = await besideOnProduct([-500, 499.9, 0, 499.95, -500, 12, 3, 4], [1, 8]);
    expect(Array.from(bound.max)).toEqual([bound.values[3]]);
  });

  it('declared cost equals measured cost; from the reshare 4 rounds at 32 columns (the truncation beside tableMax\'s first round)', async () => {
    for (const [rows, cols, arity] of [[3, 10, 4], [3, 10, 32], [2, 128, 32], [4, 1, 32]] as const) {
      const inputs = { x: fixedInput(randomFloats(rows * cols, -3, 3, rows + cols), [rows, cols], 36) };
      expectCost(await measureOp(inputs, (p, s) => maxLastWideBeside(p, s.x, 36, (q) => truncate(q, s.x), arity)), maxLastWideBesideCost(rows, cols, truncateCost(rows * cols), arity));
    }
    expect(maxLastWideBesideCost(32, 32, truncateCost(32 * 32)).rounds).toBe(4);
  });

  it('rejects empty rows and values of another shape', async () => {
    await expect(besideOnProduct([], [2, 0])).rejects.toThrow(/empty/);
    const run = runWithInputs({ x: fixedInput([1, 2, 3, 4], [2, 2], 36) }, (p, s) => maxLastWideBeside(p, s.x, 36, (q) => truncate(q, concatFlat(q, [s.x, s.x]))));
    await expect(run).rejects.toThrow(/shapes/);
  });
});

describe('row blocks (a causal softmax\'s visible prefixes): each row\'s max over its block\'s first `width` columns', () => {
  // Rows in runs; masked columns hold 1000, which must never win. Widths 1 to 40 in one call: two levels (arity 32).
  const blocks = [{ rows: 2, width: 1 }, { rows: 1, width: 2 }, { rows: 3, width: 7 }, { rows: 1, width: 33 }, { rows: 2, width: 40 }];
  const rows = 9;
  const cols = 40;
  const x = quantize(randomFloats(rows * cols, -100, 100, 9));
  const widthOf = (r: number): number => {
    let at = 0;
    for (const b of blocks) if (r < (at += b.rows)) return b.width;
    throw new Error('row outside the blocks');
  };
  for (let r = 0; r < rows; r++) for (let j = widthOf(r); j < cols; j++) x[r * cols + j] = 1000;

  it('one of the row\'s candidates, within SLACK per level of their max; masked columns never win; declared = measured', async () => {
    for (const arity of [32, 4]) {
      const got = await runNn({ x: { values: x, shape: [rows, cols] } }, (p, s) => maxLastWide(p, s.x, arity, blocks));
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * cols, r * cols + widthOf(r)));
        expect(row, `row ${r}`).toContain(got[r]);
        expect(Math.max(...row) - got[r]).toBeLessThanOrEqual((arity === 32 ? 2 : 3) * SLACK);
      }
      expectCost(await measureOp({ x: fixedInput(x, [rows, cols]) }, (p, s) => maxLastWide(p, s.x, arity, blocks)), maxLastWideCost(rows, cols, arity, blocks));
    }
    // As many rounds as the widest block alone needs; fewer comparisons than every row at full width.
    expect(maxLastWideCost(rows, cols, 32, blocks).rounds).toBe(maxLastWideCost(rows, cols).rounds);
    expect(maxLastWideCost(rows, cols, 32, blocks).bytes[0]).toBeLessThan(maxLastWideCost(rows, cols).bytes[0]);
    expect(maxLastWideCost(3, 7, 32, [{ rows: 3, width: 7 }]).rounds).toBe(maxLastWideCost(3, 7).rounds);
  });

  it('beside a truncation: picks the truncated candidates, declared = measured', async () => {
    const inputs = { x: fixedInput(x, [rows, cols], 36) };
    const run = await runWithInputs(inputs, async (p, s) => {
      const r = await maxLastWideBeside(p, s.x, 36, (q) => truncate(q, s.x), 32, blocks);
      return decodeFixed(await revealRaw(p, r.max), 18);
    });
    for (let r = 0; r < rows; r++) expect(Math.max(...Array.from(x.subarray(r * cols, r * cols + widthOf(r)))) - run.results[0][r]).toBeLessThanOrEqual(2 * (SLACK + 2 ** -18));
    expectCost(await measureOp(inputs, (p, s) => maxLastWideBeside(p, s.x, 36, (q) => truncate(q, s.x), 32, blocks)), maxLastWideBesideCost(rows, cols, truncateCost(rows * cols), 32, blocks));
  });

  it('rejects blocks that do not cover the rows or exceed the columns', async () => {
    await expect(runNn({ x: { values: x, shape: [rows, cols] } }, (p, s) => maxLastWide(p, s.x, 32, [{ rows: 8, width: 3 }]))).rejects.toThrow(/row blocks/);
    expect(() => maxLastWideCost(rows, cols, 32, [{ rows: 9, width: 41 }])).toThrow(/row blocks/);
  });
});
