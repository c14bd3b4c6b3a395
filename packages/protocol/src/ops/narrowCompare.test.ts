import { describe, expect, it } from 'vitest';
import { encodeFixed } from '@puma/ring';
import { fixedInput, randomFloats, runWithInputs, measureOp, expectCost } from '../test-support.ts';
import { fixedPointWindow, lessThanNarrow, lessThanNarrowCost, lessThanPublicNarrow, windowRange, type CompareWindow } from './narrowCompare.ts';
import { lessThanCost } from './lessThan.ts';
import { revealBool } from './reveal.ts';
import { concatFlat, sliceFlat } from './linear.ts';

const bitsOf = (words: BigUint64Array, n: number) => Array.from({ length: n }, (_, e) => Number((words[Math.floor(e / 64)] >> BigInt(e % 64)) & 1n));
const signed = (v: bigint) => BigInt.asIntN(64, v);
const rawInput = (raw: bigint[]) => ({ values: BigUint64Array.from(raw, (v) => BigInt.asUintN(64, v)), shape: [raw.length] });

const W18 = fixedPointWindow(18);

describe('narrow comparison (local downcast to a bit window)', () => {
  it('the nn window at 18 fraction bits: drop 11, 18 bits, differences up to 1024 - 2^-5', () => {
    expect(W18).toEqual({ drop: 11, bits: 18 });
    expect(windowRange(W18, 18)).toBe(1024 - 2 ** -5);
    expect(() => fixedPointWindow(6)).toThrow(/at least 7 fraction bits/);
  });

  it('2000 random pairs with |x - y| < 1000 (incl. equal and 1-ulp pairs): exact for |x - y| >= 3 * 2^-7', async () => {
    const n = 2000;
    const x = randomFloats(n, -500, 500, 21);
    const y = randomFloats(n, -500, 500, 22);
    y[0] = x[0];
    y[1] = x[1] + 2 ** -18;
    y[2] = x[2] - 2 ** -18;
    for (let i = 3; i < 200; i++) y[i] = x[i] + (i - 100) * 2 ** -12;
    const run = await runWithInputs({ x: fixedInput(x), y: fixedInput(y) }, async (p, s) => revealBool(p, await lessThanNarrow(p, s.x, s.y, W18)));
    const got = bitsOf(run.results[0], n);
    const xe = encodeFixed(x);
    const ye = encodeFixed(y);
    let exact = 0;
    for (let i = 0; i < n; i++) {
      const d = signed(xe[i]) - signed(ye[i]);
      if (d >= 3n << 11n || d <= -(3n << 11n)) {
        expect(got[i], `pair ${i}: ${x[i]} vs ${y[i]}`).toBe(d < 0n ? 1 : 0);
        exact++;
      }
    }
    expect(exact).toBeGreaterThan(1700);
  });

  it('near ties in a batch never form a cycle: the answers on 5 nearly equal values are antisymmetric and transitive', async () => {
    // Values within 2^-8 of each other, every pair compared (copies of one share truncate the same way).
    const base = [3.25, 3.25 + 2 ** -10, 3.25 - 2 ** -9, 3.25 + 2 ** -18, 3.25];
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) if (i !== j) pairs.push([i, j]);
    const run = await runWithInputs({ v: fixedInput(base) }, async (p, s) => {
      const a = concatFlat(p, pairs.map(([i]) => sliceFlat(p, s.v, i, [1])));
      const b = concatFlat(p, pairs.map(([, j]) => sliceFlat(p, s.v, j, [1])));
      return revealBool(p, await lessThanNarrow(p, a, b, W18));
    });
    const lt = bitsOf(run.results[0], pairs.length);
    const less = (i: number, j: number) => lt[pairs.findIndex(([a, b]) => a === i && b === j)];
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) {
      if (i === j) continue;
      expect(less(i, j) && less(j, i), `${i} < ${j} and ${j} < ${i}`).toBeFalsy();
      for (let k = 0; k < 5; k++) if (k !== i && k !== j && less(i, j) && less(j, k)) expect(less(i, k), `${i} < ${j} < ${k}`).toBe(1);
    }
  });

  it('at the bound: differences just inside 2^(drop+bits-1) - 2^(drop+2) are right; past 2^(drop+bits-1) the window wraps and the answer flips', async () => {
    const w: CompareWindow = { drop: 11, bits: 18 };
    const bound = (1n << 28n) - (1n << 13n);
    const beyond = (1n << 28n) + (1n << 14n);
    const d = [bound - 1n, -(bound - 1n), beyond, -beyond];
    const y = [5n << 18n, -(7n << 18n), 123456n, -98765n];
    const x = d.map((v, i) => v + y[i]);
    const run = await runWithInputs({ x: rawInput(x), y: rawInput(y) }, async (p, s) => revealBool(p, await lessThanNarrow(p, s.x, s.y, w)));
    // Inside: [x < y] is (d < 0). Beyond: the difference wraps into the other half of the window, so the sign is wrong.
    expect(bitsOf(run.results[0], 4)).toEqual([0, 1, 1, 0]);
  });

  it('public constants: exact outside [c, c + 2^-6), and a window of other sizes', async () => {
    const c = [-14, 4, -4, 0];
    const xs = [-14.5, -14.02, -13.98, -13, 3.9, 4 + 2 ** -5, -4.1, -3.9, -900, 900, -(2 ** -8), 2 ** -5];
    const run = await runWithInputs({ x: fixedInput(xs) }, async (p, s) => Promise.all(c.map(async (t) => revealBool(p, await lessThanPublicNarrow(p, s.x, t, W18)))));
    c.forEach((t, k) => {
      const got = bitsOf(run.results[0][k], xs.length);
      xs.forEach((v, i) => {
        if (!(v >= t && v < t + 2 ** -6)) expect(got[i], `${v} < ${t}`).toBe(v < t ? 1 : 0);
      });
    });
    const w12: CompareWindow = { drop: 4, bits: 12 };
    // drop 4: exact unless 0 <= x < 32 raw units; range 2^15 - 2^6.
    const raw = [-32000n, -17n, -1n, 32n, 40n, 32000n];
    const small = await runWithInputs({ x: rawInput(raw) }, async (p, s) => revealBool(p, await lessThanPublicNarrow(p, s.x, 0, w12)));
    expect(bitsOf(small.results[0], raw.length)).toEqual([1, 1, 1, 0, 0, 0]);
  });

  it('rejects windows that do not fit and operands of different shapes', async () => {
    await expect(runWithInputs({ x: fixedInput([1, 2]) }, (p, s) => lessThanPublicNarrow(p, s.x, 0, { drop: 50, bits: 18 }))).rejects.toThrow(/drop \+ bits <= 64/);
    await expect(runWithInputs({ x: fixedInput([1, 2]), y: fixedInput([1]) }, (p, s) => lessThanNarrow(p, s.x, s.y, W18))).rejects.toThrow(/shapes/);
  });

  it('declared costs equal measured costs; the 18-bit window takes 6 rounds and 59 bits per element (msb: 8 and 241)', async () => {
    for (const n of [1, 64, 1500]) {
      const inputs = { x: fixedInput(randomFloats(n, -9, 9, n)), y: fixedInput(randomFloats(n, -9, 9, n + 1)) };
      for (const w of [W18, { drop: 4, bits: 12 }, { drop: 0, bits: 64 }]) {
        expectCost(await measureOp(inputs, (p, s) => lessThanNarrow(p, s.x, s.y, w)), lessThanNarrowCost(n, w));
        expectCost(await measureOp(inputs, (p, s) => lessThanPublicNarrow(p, s.x, 1.5, w)), lessThanNarrowCost(n, w));
      }
    }
    const c = lessThanNarrowCost(1024, W18);
    expect(c.rounds).toBe(6);
    expect(Math.max(...c.bytes) * 8 / 1024).toBe(59);
    expect(lessThanNarrowCost(1024, { drop: 0, bits: 64 })).toEqual(lessThanCost(1024));
  });
});
