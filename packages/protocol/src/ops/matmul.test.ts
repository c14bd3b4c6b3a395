import { describe, expect, it } from 'vitest';
import { encodeInts } from '@puma/ring';
import { fixedInput, randomFloats, runWithInputs, measureOp, expectCost } from '../test-support.ts';
import { matmul, matmulRaw, matmulCost, matmulRawCost } from './matmul.ts';
import { reveal, revealRaw } from './reveal.ts';

function matmulF64(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) { const av = a[i * k + p]; for (let j = 0; j < n; j++) c[i * n + j] += av * b[p * n + j]; }
  return c;
}
const q = (xs: Float64Array) => Float64Array.from(xs, (v) => Math.round(v * 2 ** 18) / 2 ** 18);

describe('matmul', () => {
  it('256x256x256 fixed point from [-4, 4] matches float64 within 2^-15 with the declared cost', async () => {
    const N = 256;
    const a = randomFloats(N * N, -4, 4, 1);
    const b = randomFloats(N * N, -4, 4, 2);
    const inputs = { a: fixedInput(a, [N, N]), b: fixedInput(b, [N, N]) };
    const run = await runWithInputs(inputs, async (p, xs) => reveal(p, await matmul(p, xs.a, xs.b)));
    const want = matmulF64(q(a), q(b), N, N, N);
    let worst = 0;
    run.results[0].forEach((v, i) => { worst = Math.max(worst, Math.abs(v - want[i])); });
    expect(worst).toBeLessThanOrEqual(2 ** -15);
    expectCost(await measureOp(inputs, (p, xs) => matmul(p, xs.a, xs.b)), matmulCost(N * N));
  });

  it('batched, transposed and broadcast operands', async () => {
    const a = randomFloats(2 * 3 * 5, -2, 2, 5);
    const b = randomFloats(5 * 4, -2, 2, 6);
    const bt = new Float64Array(20);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 4; j++) bt[j * 5 + i] = b[i * 4 + j];
    const run = await runWithInputs({ a: fixedInput(a, [2, 3, 5]), b: fixedInput(b, [5, 4]), bt: fixedInput(bt, [4, 5]) }, async (p, xs) => [
      await reveal(p, await matmul(p, xs.a, xs.b)),
      await reveal(p, await matmul(p, xs.a, xs.bt, { transB: true })),
    ]);
    for (let t = 0; t < 2; t++) {
      const want = matmulF64(q(a.subarray(t * 15, t * 15 + 15)), q(b), 3, 5, 4);
      for (let i = 0; i < 12; i++) expect(Math.abs(run.results[0][0][t * 12 + i] - want[i])).toBeLessThan(2 ** -15);
      for (let i = 0; i < 12; i++) expect(Math.abs(run.results[0][1][t * 12 + i] - want[i])).toBeLessThan(2 ** -15);
    }
  });

  it('raw ring matmul is exact and costs one word per output', async () => {
    const a = [1, -2, 3, 4, 5, -6];
    const b = [7, 8, -9, 10, 11, 12];
    const inputs = { a: { values: encodeInts(a), shape: [2, 3] }, b: { values: encodeInts(b), shape: [3, 2] } };
    const run = await runWithInputs(inputs, async (p, xs) => revealRaw(p, await matmulRaw(p, xs.a, xs.b)));
    expect(Array.from(run.results[0], (v) => Number(BigInt.asIntN(64, v)))).toEqual([1 * 7 + -2 * -9 + 3 * 11, 1 * 8 + -2 * 10 + 3 * 12, 4 * 7 + 5 * -9 + -6 * 11, 4 * 8 + 5 * 10 + -6 * 12]);
    expectCost(await measureOp(inputs, (p, xs) => matmulRaw(p, xs.a, xs.b)), matmulRawCost(4));
  });

  it('rejects mismatched inner dimensions', async () => {
    await expect(runWithInputs({ a: fixedInput([1, 2, 3, 4], [2, 2]), b: fixedInput([1, 2, 3], [3, 1]) }, (p, xs) => matmul(p, xs.a, xs.b))).rejects.toThrow(/inner dimensions differ/);
  });
});
