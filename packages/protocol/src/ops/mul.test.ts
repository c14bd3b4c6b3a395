import { describe, expect, it } from 'vitest';
import { encodeInts, decodeInts } from '@puma/ring';
import { fixedInput, randomFloats, runWithInputs, measureOp, expectCost } from '../test-support.ts';
import { mul, mulRaw, mulCost, mulRawCost } from './mul.ts';
import { reveal, revealRaw } from './reveal.ts';

const ULP = 2 ** -18;

describe('mul', () => {
  it('mulRaw is the exact ring product, negatives and wrap-around included', async () => {
    const a = [0, 1, -1, 3, -7, 2 ** 40, -(2 ** 31), 12345];
    const b = [5, -1, -1, 9, 11, 2 ** 30, 2 ** 33, 0];
    const run = await runWithInputs({ a: { values: encodeInts(a), shape: [8] }, b: { values: encodeInts(b), shape: [8] } }, async (p, xs) => revealRaw(p, await mulRaw(p, xs.a, xs.b)));
    const want = a.map((x, i) => BigInt.asIntN(64, BigInt(x) * BigInt(b[i])));
    expect(Array.from(run.results[0], (v) => BigInt.asIntN(64, v))).toEqual(want);
    expect(decodeInts(run.results[1])).toEqual(decodeInts(run.results[2]));
  });

  it('fixed-point product within 1 ulp of float64 over [-100, 100], edge values included', async () => {
    const n = 1000;
    const x = randomFloats(n, -100, 100, 3);
    const y = randomFloats(n, -100, 100, 4);
    const edges = [0, ULP, -ULP, 1, -1, 3000, -3000];
    edges.forEach((e, i) => { x[i] = e; y[i] = edges[edges.length - 1 - i]; });
    const run = await runWithInputs({ x: fixedInput(x), y: fixedInput(y) }, async (p, xs) => reveal(p, await mul(p, xs.x, xs.y)));
    const xr = Float64Array.from(x, (v) => Math.round(v / ULP) * ULP);
    const yr = Float64Array.from(y, (v) => Math.round(v / ULP) * ULP);
    for (let i = 0; i < n; i++) expect(Math.abs(run.results[0][i] - xr[i] * yr[i])).toBeLessThanOrEqual(ULP);
  });

  it('shape 1 and empty-free awkward shapes', async () => {
    const run = await runWithInputs({ x: fixedInput([2.5], [1, 1]), y: fixedInput([-4], [1, 1]) }, async (p, xs) => reveal(p, await mul(p, xs.x, xs.y)));
    expect(run.results[0][0]).toBe(-10);
  });

  it('declared cost equals measured cost', async () => {
    for (const n of [1, 100, 1000]) {
      const inputs = { x: fixedInput(randomFloats(n, -1, 1)), y: fixedInput(randomFloats(n, -1, 1, 9)) };
      expectCost(await measureOp(inputs, (p, xs) => mul(p, xs.x, xs.y)), mulCost(n));
      expectCost(await measureOp(inputs, (p, xs) => mulRaw(p, xs.x, xs.y)), mulRawCost(n));
    }
  });

  it('rejects mismatched shapes', async () => {
    await expect(runWithInputs({ x: fixedInput([1, 2]), y: fixedInput([1, 2, 3]) }, (p, xs) => mul(p, xs.x, xs.y))).rejects.toThrow(/shapes \[2\] and \[3\] differ/);
  });
});
