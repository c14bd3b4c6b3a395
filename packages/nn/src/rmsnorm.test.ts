import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp, randomFloats } from '@puma/protocol/test-support';
import { rmsNorm, rmsNormCost } from './rmsnorm.ts';
import { rmsNormRow } from './reference.ts';
import { maxAbsError, perRow, quantize, rowsWithStd, runNn } from './test-support.ts';

const STDS = [0.05, 0.1, 0.5, 1, 3, 10, 25, 50];
const N = 64;
const gamma = quantize(randomFloats(N, -2, 2, 7));

describe('rmsNorm', () => {
  it('within 5e-3 for row RMS from 0.05 to 50 (eps 1e-6)', async () => {
    const x = rowsWithStd(STDS, N, 4, true);
    const got = await runNn({ x: { values: x, shape: [STDS.length, N] }, g: { values: gamma } }, (p, s) => rmsNorm(p, s.x, s.g, 1e-6));
    const { err } = maxAbsError(got, perRow(x, N, (row) => rmsNormRow(row, gamma, 1e-6)));
    console.log(`rmsNorm max abs error ${err.toExponential(3)}`);
    expect(err).toBeLessThanOrEqual(5e-3);
  });

  it('declared cost equals measured cost; 13 rounds', async () => {
    const inputs = { x: fixedInput(rowsWithStd([1, 2, 3], 10, 1, true), [3, 10]), g: fixedInput(gamma.slice(0, 10)) };
    expectCost(await measureOp(inputs, (p, s) => rmsNorm(p, s.x, s.g, 1e-6)), rmsNormCost(3, 10, 1e-6));
    expect(rmsNormCost(32, 128, 1e-6).rounds).toBe(13);
  });

  it('rejects a variance bound the ring cannot hold', async () => {
    await expect(runNn({ x: { values: [1, 2, 3, 4], shape: [2, 2] }, g: { values: [1, 1] } }, (p, s) => rmsNorm(p, s.x, s.g, 1e-5, { maxVar: 2 ** 30 }))).rejects.toThrow(/exceeds/);
  });
});
