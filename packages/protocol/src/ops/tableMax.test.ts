import { describe, expect, it } from 'vitest';
import { encodeFixed } from '@puma/ring';
import { ROTATE_FROM } from '../dealers.ts';
import { expectCost, fixedInput, measureOp, randomFloats, runWithInputs } from '../test-support.ts';
import { fixedPointWindow } from './narrowCompare.ts';
import { revealRaw } from './reveal.ts';
import { fieldTableLayout } from './tableLayout.ts';
import { tableMax, tableMaxCost, tableMaxDecide, tableMaxDecideCost, tableMaxPick, tableMaxPickCost, type TableMaxDecision } from './tableMax.ts';

const W18 = fixedPointWindow(18);

/** Candidates on a grid of 2^-5 (far above the window's 3 * 2^-7 resolution), with ties, in [-lo, hi]. */
function gridValues(n: number, seed: number, span: number): Float64Array {
  const r = randomFloats(n, -span, span, seed);
  return r.map((v) => Math.round(v * 32) / 32);
}

/** Expected result per group: the ring value of the largest candidate (ties have equal values). */
function expectedMax(values: Float64Array, arity: number): BigUint64Array {
  const out: number[] = [];
  for (let g = 0; g < values.length / arity; g++) out.push(Math.max(...values.subarray(g * arity, (g + 1) * arity)));
  return encodeFixed(out, 18);
}

describe('maximum of groups by dealer tables with arithmetic outputs (3 rounds)', () => {
  it('is each group\'s largest candidate, exactly, for arities 2 to 33 and mixed batches, below and above the rotating size', async () => {
    const cases: Array<Array<{ units: number; arity: number }>> = [
      [{ units: 1, arity: 2 }],
      [{ units: 5, arity: 3 }, { units: 2, arity: 7 }],
      [{ units: 9, arity: 32 }, { units: 4, arity: 33 }, { units: 3, arity: 4 }],
      [{ units: 40, arity: 16 }, { units: 7, arity: 31 }],
    ];
    for (const [c, groups] of cases.entries()) {
      const inputs: Record<string, ReturnType<typeof fixedInput>> = {};
      const plain: Float64Array[] = [];
      groups.forEach((g, b) => {
        const v = gridValues(g.units * g.arity, 100 * c + b + 1, 300);
        // Ties at the top: the first group's two first candidates equal its largest value.
        if (b === 0) {
          const top = Math.max(...v.subarray(0, g.arity));
          v[0] = top;
          v[g.arity - 1] = top;
        }
        plain.push(v);
        inputs[`x${b}`] = fixedInput(v, [g.units, g.arity]);
      });
      const names = groups.map((_, b) => `x${b}`);
      const run = await runWithInputs(inputs, async (p, s) => {
        const maxima = await tableMax(p, names.map((k) => s[k]), W18);
        return Promise.all(maxima.map((m) => revealRaw(p, m)));
      });
      run.results[0].forEach((got, b) => expect(got, `case ${c}, group ${b}`).toEqual(expectedMax(plain[b], groups[b].arity)));
      const pairs = groups.reduce((s, g) => s + (g.units * g.arity * (g.arity - 1)) / 2, 0);
      if (c === cases.length - 1) expect(pairs).toBeGreaterThanOrEqual(ROTATE_FROM);
    }
  });

  it('picks from other values by the decisions on the compared ones (a copy at more fraction bits)', async () => {
    const units = 6;
    const arity = 12;
    const v = gridValues(units * arity, 77, 100);
    const wide = encodeFixed(v, 30);
    const run = await runWithInputs({ compare: { values: wide, shape: [units, arity] }, values: fixedInput(v, [units, arity]) }, async (p, s) => {
      const d = await tableMaxDecide(p, [s.compare], { drop: 30 - 7, bits: 18 });
      const [m] = await tableMaxPick(p, d, [s.values]);
      return revealRaw(p, m);
    });
    expect(run.results[0]).toEqual(expectedMax(v, arity));
  });

  it('on other windows: 12 bits above 11 dropped (differences below 16) and the widest, 32 bits above none', async () => {
    const units = 20;
    const arity = 9;
    for (const [w, span] of [[{ drop: 11, bits: 12 }, 7], [{ drop: 0, bits: 32 }, 3000]] as const) {
      const v = gridValues(units * arity, 5 + w.bits, span);
      const run = await runWithInputs({ x: fixedInput(v, [units, arity]) }, async (p, s) => revealRaw(p, (await tableMax(p, [s.x], w))[0]));
      expect(run.results[0], `${w.bits}-bit window`).toEqual(expectedMax(v, arity));
    }
  });

  it('declared costs equal measured costs, decide 1 round and pick 2, on one dealer and on rotated dealers', async () => {
    for (const groups of [[{ units: 3, arity: 5 }], [{ units: 12, arity: 32 }, { units: 20, arity: 9 }], [{ units: 4, arity: 2 }, { units: 1, arity: 17 }]]) {
      const inputs = Object.fromEntries(groups.map((g, b) => [`x${b}`, fixedInput(gridValues(g.units * g.arity, b + 5, 50), [g.units, g.arity])]));
      const parts = (s: Record<string, import('../share.ts').AShare>) => groups.map((_, b) => s[`x${b}`]);
      expectCost(await measureOp(inputs, (p, s) => tableMax(p, parts(s), W18)), tableMaxCost(groups, W18));
      expectCost(await measureOp(inputs, (p, s) => tableMaxDecide(p, parts(s), W18)), tableMaxDecideCost(groups, W18));
      expectCost(await measureOp<TableMaxDecision>(inputs, (p, s, d) => tableMaxPick(p, d, parts(s)), (p, s) => tableMaxDecide(p, parts(s), W18)), tableMaxPickCost(groups, W18));
    }
    expect(tableMaxCost([{ units: 1, arity: 32 }], W18).rounds).toBe(3);
    // The layout for 5-bit fields takes larger blocks than the one-bit tables (blocks of 3 at 18 bits).
    expect(fieldTableLayout(18, 5).blocks.map((b) => b.size)).toEqual([5, 5, 5, 2]);
    // Groups of 32 on the 18-bit window, dealers rotating: 465 bits per pair in all to decide (the tables twice,
    // 23 fields of 5 bits, 7 pad bits each way), and 2 x 32 words per candidate from the dealer to pick, plus the
    // helpers' 5-bit openings and one resharing word per group each.
    const big = [{ units: 300, arity: 32 }];
    const all = (c: { bytes: number[] }) => c.bytes.reduce((x, y) => x + y, 0) * 8;
    expect(all(tableMaxDecideCost(big, W18)) / (300 * 496)).toBeCloseTo(465, 1);
    expect(all(tableMaxPickCost(big, W18)) / (300 * 32)).toBeCloseTo(4096 + 2 * 5 + (2 * 64) / 32, 0);
  });

  it('refuses bad shapes and windows by name', async () => {
    expect(() => tableMaxCost([{ units: 1, arity: 1 }], W18)).toThrow(/2 to 1024 candidates/);
    expect(() => tableMaxCost([{ units: 1, arity: 4 }], { drop: 0, bits: 40 })).toThrow(/window of 40 bits/);
    await expect(runWithInputs({ x: fixedInput([1, 2, 3, 4], [2, 2]) }, async (p, s) => {
      const d = await tableMaxDecide(p, [s.x], W18);
      return tableMaxPick(p, d, [s.x, s.x]);
    })).rejects.toThrow(/values must be 1 shares/);
  });
});
