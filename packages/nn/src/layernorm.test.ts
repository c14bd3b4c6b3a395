import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp, randomFloats } from '@puma/protocol/test-support';
import { layerNorm, layerNormCost } from './layernorm.ts';
import { layerNormRow } from './reference.ts';
import { maxAbsError, perRow, quantize, rowsWithStd, runNn } from './test-support.ts';

const STDS = [0.05, 0.1, 0.5, 1, 3, 10, 25, 50];
const N = 64;
const gamma = quantize(randomFloats(N, -2, 2, 7));
const beta = quantize(randomFloats(N, -1, 1, 8));

describe('layerNorm', () => {
  // Both ways of forming m R: gamma into R's 37 lanes (13 rounds) and R, then the product (15).
  it.each([['gamma into the lanes', 13, Infinity], ['R, then the product', 15, 0]])('within 5e-3 for row std from 0.05 to 50 (eps 1e-5), %s: %i rounds', async (way, rounds, laneProducts) => {
    const x = rowsWithStd(STDS, N, 3);
    expect(layerNormCost(STDS.length, N, 1e-5, { laneProducts }).rounds).toBe(rounds);
    const got = await runNn({ x: { values: x, shape: [STDS.length, N] }, g: { values: gamma }, b: { values: beta } }, (p, s) => layerNorm(p, s.x, s.g, s.b, 1e-5, { laneProducts }));
    const { err, at } = maxAbsError(got, perRow(x, N, (row) => layerNormRow(row, gamma, beta, 1e-5)));
    console.log(`layerNorm (${way}) max abs error ${err.toExponential(3)} (row std ${STDS[Math.floor(at / N)]})`);
    expect(err).toBeLessThanOrEqual(5e-3);
  });

  it('eps below 2^-18 still counts: constant rows give beta, rows spread over a few ulp match float64', async () => {
    const eps = 1e-12;
    const x = quantize([...new Array<number>(N).fill(3.25), ...Array.from({ length: N }, (_, j) => (j % 2 ? 1e-4 : -1e-4) + 1)]);
    const got = await runNn({ x: { values: x, shape: [2, N] }, g: { values: gamma }, b: { values: beta } }, (p, s) => layerNorm(p, s.x, s.g, s.b, eps));
    expect(maxAbsError(got.slice(0, N), beta).err).toBeLessThanOrEqual(2 ** -17);
    expect(maxAbsError(got, perRow(x, N, (row) => layerNormRow(row, gamma, beta, eps))).err).toBeLessThanOrEqual(5e-3);
  });

  it('a single row given as a 1-D tensor, and rows batched over leading axes', async () => {
    const x = rowsWithStd([2, 0.3, 7, 1], 16, 9);
    const g = gamma.slice(0, 16);
    const b = beta.slice(0, 16);
    const one = await runNn({ x: { values: x.slice(0, 16) }, g: { values: g }, b: { values: b } }, (p, s) => layerNorm(p, s.x, s.g, s.b, 1e-5));
    expect(maxAbsError(one, layerNormRow(x.slice(0, 16), g, b, 1e-5)).err).toBeLessThanOrEqual(5e-3);
    const batched = await runNn({ x: { values: x, shape: [2, 2, 16] }, g: { values: g }, b: { values: b } }, (p, s) => layerNorm(p, s.x, s.g, s.b, 1e-5));
    expect(maxAbsError(batched, perRow(x, 16, (row) => layerNormRow(row, g, b, 1e-5))).err).toBeLessThanOrEqual(5e-3);
  });

  it('declared cost equals measured cost, gamma into the lanes (3 x 10 x 40 lanes: at most 2^12) or after R (48 x 40); 13 and 15 rounds', async () => {
    for (const [rows, n] of [[3, 10], [48, 40]]) {
      const inputs = { x: fixedInput(rowsWithStd(Array.from({ length: rows }, (_, i) => 1 + i), n, 1), [rows, n]), g: fixedInput(gamma.slice(0, n)), b: fixedInput(beta.slice(0, n)) };
      expectCost(await measureOp(inputs, (p, s) => layerNorm(p, s.x, s.g, s.b, 1e-5)), layerNormCost(rows, n, 1e-5));
    }
    expect(layerNormCost(32, 128, 1e-5).rounds).toBe(15);
    expect(layerNormCost(1, 768, 1e-5).rounds).toBe(15);
    expect(layerNormCost(1, 64, 1e-5).rounds).toBe(13);
  });

  it('rejects bad parameters', async () => {
    const x = { values: [1, 2, 3, 4], shape: [2, 2] };
    await expect(runNn({ x, g: { values: [1, 1, 1] }, b: { values: [0, 0] } }, (p, s) => layerNorm(p, s.x, s.g, s.b, 1e-5))).rejects.toThrow(/gamma must have shape \[2\]/);
    await expect(runNn({ x, g: { values: [1, 1] }, b: { values: [0] } }, (p, s) => layerNorm(p, s.x, s.g, s.b, 1e-5))).rejects.toThrow(/beta must have shape \[2\]/);
    await expect(runNn({ x, g: { values: [1, 1] }, b: { values: [0, 0] } }, (p, s) => layerNorm(p, s.x, s.g, s.b, 0))).rejects.toThrow(/eps must be a positive/);
  });
});
