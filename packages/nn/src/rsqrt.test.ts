import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { rsqrt, rsqrtCost } from './rsqrt.ts';
import { logSweep, maxRelError, quantize, runNn } from './test-support.ts';

describe('rsqrt', () => {
  it('relative error <= 1e-3 on [2^-10, 2^16] (36 output fraction bits); below the range gives 0', async () => {
    const xs = quantize(logSweep(-10, 16, 600));
    const got = await runNn({ x: { values: [...xs, 2 ** -12] } }, (p, s) => rsqrt(p, s.x, { outScale: 36 }), 36);
    const { err, at } = maxRelError(got.slice(0, xs.length), Array.from(xs, (v) => 1 / Math.sqrt(v)));
    console.log(`rsqrt max relative error ${err.toExponential(3)} at x = ${xs[at]}`);
    expect(err).toBeLessThanOrEqual(1e-3);
    expect(got[xs.length]).toBe(0);
  });

  it('declared cost equals measured cost; 12 rounds', async () => {
    for (const n of [1, 40]) expectCost(await measureOp({ x: fixedInput(Array.from({ length: n }, (_, i) => 0.01 + i * 3.3)) }, (p, s) => rsqrt(p, s.x)), rsqrtCost(n));
    expect(rsqrtCost(4096).rounds).toBe(12);
  });
});
