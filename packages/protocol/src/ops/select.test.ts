import { describe, expect, it } from 'vitest';
import { fixedInput, randomFloats, runWithInputs, measureOp, expectCost } from '../test-support.ts';
import { lessThan } from './lessThan.ts';
import { b2a, b2aCost } from './b2a.ts';
import { select, selectCost, mulBit } from './select.ts';
import { maxLast, maxLastCost } from './max.ts';
import { reveal, revealRaw } from './reveal.ts';
import type { Party } from '../party.ts';
import type { AShare, BShare } from '../share.ts';

describe('b2a, select, max', () => {
  it('b2a turns comparison bits into 0/1 ring elements', async () => {
    const x = [1, -1, 0, 2, -2];
    const run = await runWithInputs({ x: fixedInput(x), z: fixedInput([0, 0, 0, 0, 0]) }, async (p, s) => revealRaw(p, await b2a(p, await lessThan(p, s.x, s.z))));
    expect(Array.from(run.results[0])).toEqual([0n, 1n, 0n, 0n, 1n]);
  });

  it('select and mulBit', async () => {
    const x = randomFloats(130, -5, 5, 1);
    const y = randomFloats(130, -5, 5, 2);
    const run = await runWithInputs({ x: fixedInput(x), y: fixedInput(y) }, async (p, s) => {
      const bit = await lessThan(p, s.x, s.y);
      return [await reveal(p, await select(p, bit, s.x, s.y)), await reveal(p, await mulBit(p, bit, s.x))];
    });
    const q = (v: number) => Math.round(v * 2 ** 18) / 2 ** 18;
    for (let i = 0; i < 130; i++) {
      expect(run.results[0][0][i]).toBe(q(Math.min(x[i], y[i])));
      expect(run.results[0][1][i]).toBe(x[i] < y[i] ? q(x[i]) : 0);
    }
  });

  it('max and argmax along the last axis, odd widths and ties', async () => {
    for (const cols of [1, 2, 5, 32, 33]) {
      const rows = 3;
      const v = randomFloats(rows * cols, -20, 20, cols);
      if (cols > 2) v[1] = v[2];
      const run = await runWithInputs({ x: fixedInput(v, [rows, cols]) }, async (p, s) => {
        const r = await maxLast(p, s.x, true);
        return [await reveal(p, r.max), await revealRaw(p, r.argmax!)];
      });
      for (let r = 0; r < rows; r++) {
        const row = Array.from(v.subarray(r * cols, (r + 1) * cols), (t) => Math.round(t * 2 ** 18) / 2 ** 18);
        const m = Math.max(...row);
        expect(run.results[0][0][r]).toBe(m);
        expect(row[Number(run.results[0][1][r])]).toBe(m);
      }
    }
  });

  it('declared costs equal measured costs', async () => {
    const n = 200;
    const inputs = { x: fixedInput(randomFloats(n, -3, 3, 5), [8, 25]), y: fixedInput(randomFloats(n, -3, 3, 6), [8, 25]) };
    const xy = { x: fixedInput(randomFloats(n, -3, 3, 5)), y: fixedInput(randomFloats(n, -3, 3, 6)) };
    const bit = (p: Party, s: Record<string, AShare>) => lessThan(p, s.x, s.y);
    expectCost(await measureOp(xy, (p, _s, b: BShare) => b2a(p, b), bit), b2aCost(n));
    expectCost(await measureOp(xy, (p, s, b: BShare) => select(p, b, s.x, s.y), bit), selectCost(n));
    expectCost(await measureOp(inputs, (p, s) => maxLast(p, s.x)), maxLastCost(8, 25));
    expectCost(await measureOp(inputs, (p, s) => maxLast(p, s.x, true)), maxLastCost(8, 25, true));
  });
});
