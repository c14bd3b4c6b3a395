import { describe, expect, it } from 'vitest';
import { ROTATE_FROM } from '../dealers.ts';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '../test-support.ts';
import { lessThanNarrow, lessThanNarrowCost, lessThanPublicNarrow, type CompareWindow } from './narrowCompare.ts';
import { revealBool } from './reveal.ts';
import { MAX_TABLE_WIDTH, tableLayout, topBitTables, topBitTablesCost } from './tableCompare.ts';

const bitsOf = (words: BigUint64Array, n: number) => Array.from({ length: n }, (_, e) => Number((words[Math.floor(e / 64)] >> BigInt(e % 64)) & 1n));

/** Deterministic 64-bit values: every bit pattern, including the window's extremes. */
function randomWords(n: number, seed: number): BigUint64Array {
  let s = BigInt(seed) | 1n;
  const out = new BigUint64Array(n);
  for (let i = 0; i < n; i++) {
    s ^= (s << 13n) & 0xffffffffffffffffn;
    s ^= s >> 7n;
    s ^= (s << 17n) & 0xffffffffffffffffn;
    out[i] = s;
  }
  return out;
}

describe('top bit from dealer tables (2 rounds)', () => {
  it('is the top bit of the sum on the window, for widths 2 to 32, below and above the rotating-dealer size', async () => {
    for (const n of [1, 64, 333, ROTATE_FROM + 7]) {
      const values = randomWords(n, 7 * n + 1);
      // Edge values on the low bits: 0, all ones, the top bit alone, one below it.
      values[0] = 0n;
      if (n > 3) {
        values[1] = 0xffffffffffffffffn;
        values[2] = 1n << 17n;
        values[3] = (1n << 17n) - 1n;
      }
      for (const width of [2, 3, 8, 12, 18, 24, MAX_TABLE_WIDTH]) {
        const run = await runWithInputs({ x: { values, shape: [n] } }, async (p, s) => revealBool(p, await topBitTables(p, s.x, width)));
        const got = bitsOf(run.results[0], n);
        const want = Array.from(values, (v) => Number((v >> BigInt(width - 1)) & 1n));
        const wrong = got.flatMap((g, i) => (g === want[i] ? [] : [i]));
        expect(wrong, `width ${width}, n ${n}: wrong at ${wrong.slice(0, 5).join(', ')}`).toEqual([]);
      }
    }
  });

  it('narrow comparisons by tables give the same answers as by the carry circuit, on values in and out of the window', async () => {
    const n = 2000;
    const x = randomFloats(n, -1500, 1500, 41);
    const y = randomFloats(n, -1500, 1500, 42);
    for (let i = 0; i < 100; i++) y[i] = x[i] + (i - 50) * 2 ** -12;
    for (const w of [{ drop: 11, bits: 18 }, { drop: 4, bits: 12 }, { drop: 0, bits: 32 }] as CompareWindow[]) {
      const run = await runWithInputs({ x: fixedInput(x), y: fixedInput(y) }, async (p, s) => Promise.all([
        revealBool(p, await lessThanNarrow(p, s.x, s.y, w)),
        revealBool(p, await lessThanNarrow(p, s.x, s.y, { ...w, tables: true })),
        revealBool(p, await lessThanPublicNarrow(p, s.x, 3.5, w)),
        revealBool(p, await lessThanPublicNarrow(p, s.x, 3.5, { ...w, tables: true })),
      ]));
      const [circuit, tables, publicCircuit, publicTables] = run.results[0].map((r) => bitsOf(r, n));
      expect(tables).toEqual(circuit);
      expect(publicTables).toEqual(publicCircuit);
    }
  });

  it('declared costs equal measured costs: 2 rounds; at 18 bits blocks of 3 bits and about 89 bits per element and party', async () => {
    for (const n of [1, 64, 1500, ROTATE_FROM + 2]) {
      const inputs = { x: fixedInput(randomFloats(n, -9, 9, n)), y: fixedInput(randomFloats(n, -9, 9, n + 1)) };
      for (const bits of [18, 12, 32]) {
        const w: CompareWindow = { drop: 18 - Math.min(18, bits - 1), bits, tables: true };
        expectCost(await measureOp(inputs, (p, s) => lessThanNarrow(p, s.x, s.y, w)), lessThanNarrowCost(n, w));
        expectCost(await measureOp(inputs, (p, s) => topBitTables(p, s.x, bits)), topBitTablesCost(n, bits));
      }
    }
    const l = tableLayout(18);
    expect(l.blocks.map((b) => b.size)).toEqual([3, 3, 3, 3, 3, 2]);
    const big = 3 * 2 ** 16;
    const c = topBitTablesCost(big, 18);
    expect(c.rounds).toBe(2);
    const perParty = Math.max(...c.bytes) * 8 / big;
    expect(perParty).toBeGreaterThan(85);
    expect(perParty).toBeLessThan(92);
    // A window wider than the tables take falls back to the carry circuit.
    expect(lessThanNarrowCost(64, { drop: 0, bits: 40, tables: true }).rounds).toBe(lessThanNarrowCost(64, { drop: 0, bits: 40 }).rounds);
    expect(() => tableLayout(33)).toThrow(/width 33/);
  });
});
