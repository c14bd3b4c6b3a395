import { describe, expect, it } from 'vitest';
import { encodeFixed } from '@puma/ring';
import { fixedInput, randomFloats, runWithInputs, measureOp, expectCost } from '../test-support.ts';
import { msb, msbCost } from './msb.ts';
import { lessThan, lessThanPublic, greaterThanPublic, lessThanCost } from './lessThan.ts';
import { equal, equalCost } from './equal.ts';
import { revealBool } from './reveal.ts';

const bitsOf = (words: BigUint64Array, n: number) => Array.from({ length: n }, (_, e) => Number((words[Math.floor(e / 64)] >> BigInt(e % 64)) & 1n));

describe('comparison', () => {
  it('msb of raw values: signs of extremes, zero, ±1', async () => {
    const raw = [0n, 1n, -1n, (1n << 63n) - 1n, 1n << 63n, 1n << 62n, -(1n << 62n), 12345n, -98765n];
    const run = await runWithInputs({ x: { values: BigUint64Array.from(raw, (v) => BigInt.asUintN(64, v)), shape: [raw.length] } }, async (p, s) => revealBool(p, await msb(p, s.x)));
    expect(bitsOf(run.results[0], raw.length)).toEqual(raw.map((v) => (BigInt.asUintN(64, v) >> 63n ? 1 : 0)));
  });

  it('lessThan on 1000 random pairs plus equal and 1-ulp-apart pairs', async () => {
    const n = 1000;
    const x = randomFloats(n, -1000, 1000, 11);
    const y = randomFloats(n, -1000, 1000, 12);
    y[0] = x[0];
    y[1] = x[1] + 2 ** -18;
    y[2] = x[2] - 2 ** -18;
    const run = await runWithInputs({ x: fixedInput(x), y: fixedInput(y) }, async (p, s) => revealBool(p, await lessThan(p, s.x, s.y)));
    const xe = encodeFixed(x);
    const ye = encodeFixed(y);
    expect(bitsOf(run.results[0], n)).toEqual(Array.from(xe, (v, i) => (BigInt.asIntN(64, v) < BigInt.asIntN(64, ye[i]) ? 1 : 0)));
  });

  it('comparisons with public constants', async () => {
    const x = [-5, -4, -3.9, 0, 3, 3.0001];
    const run = await runWithInputs({ x: fixedInput(x) }, async (p, s) => [await revealBool(p, await lessThanPublic(p, s.x, -4)), await revealBool(p, await greaterThanPublic(p, s.x, 3))]);
    expect(bitsOf(run.results[0][0], 6)).toEqual([1, 0, 0, 0, 0, 0]);
    expect(bitsOf(run.results[0][1], 6)).toEqual([0, 0, 0, 0, 0, 1]);
  });

  it('equality', async () => {
    const x = [0, 1, -1, 5.5, 1e6, -3];
    const y = [0, 1 + 2 ** -18, -1, 5.5, 1e6, 3];
    const run = await runWithInputs({ x: fixedInput(x), y: fixedInput(y) }, async (p, s) => revealBool(p, await equal(p, s.x, s.y)));
    expect(bitsOf(run.results[0], 6)).toEqual([1, 0, 1, 1, 1, 0]);
  });

  it('declared costs equal measured costs; lessThan stays within 8 rounds and 256 bits per element', async () => {
    for (const n of [1, 64, 1024, 1500]) {
      const inputs = { x: fixedInput(randomFloats(n, -9, 9, n)), y: fixedInput(randomFloats(n, -9, 9, n + 1)) };
      expectCost(await measureOp(inputs, (p, s) => msb(p, s.x)), msbCost(n));
      expectCost(await measureOp(inputs, (p, s) => lessThan(p, s.x, s.y)), lessThanCost(n));
      expectCost(await measureOp(inputs, (p, s) => equal(p, s.x, s.y)), equalCost(n));
    }
    const c = lessThanCost(1024);
    expect(c.rounds).toBeLessThanOrEqual(8);
    expect(Math.max(...c.bytes) * 8 / 1024).toBeLessThanOrEqual(256);
  });
});
