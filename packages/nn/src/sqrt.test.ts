import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { sqrt, sqrtCost } from './sqrt.ts';
import { logSweep, quantize, runNn } from './test-support.ts';

describe('sqrt', () => {
  it('relative error <= 1e-3 (+ 2^-16) on [2^-10, 2^16], exactly 0 at 0', async () => {
    const xs = quantize([...logSweep(-10, 16, 300), 0]);
    const got = await runNn({ x: { values: xs } }, (p, s) => sqrt(p, s.x));
    for (let i = 0; i < xs.length; i++) expect(Math.abs(got[i] - Math.sqrt(xs[i]))).toBeLessThanOrEqual(1e-3 * Math.sqrt(xs[i]) + 2 ** -16);
    expect(got[xs.length - 1]).toBe(0);
  });

  it('declared cost equals measured cost; 14 rounds', async () => {
    for (const n of [1, 40]) expectCost(await measureOp({ x: fixedInput(Array.from({ length: n }, (_, i) => i * 3.3)) }, (p, s) => sqrt(p, s.x)), sqrtCost(n));
    expect(sqrtCost(4096).rounds).toBe(14);
  });
});
