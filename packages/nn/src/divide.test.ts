import { describe, expect, it } from 'vitest';
import { expectCost, fixedInput, measureOp } from '@puma/protocol/test-support';
import { divide, divideCost } from './divide.ts';
import { quantize, runNn } from './test-support.ts';

describe('divide', () => {
  it('a / b with b of either sign: 1e-3 relative plus 2^-16', async () => {
    const n = 200;
    const a = quantize(Array.from({ length: n }, (_, i) => Math.sin(i) * 50));
    const b = quantize(Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * 2 ** (-3 + (i % 13))));
    const got = await runNn({ a: { values: a }, b: { values: b } }, (p, s) => divide(p, s.a, s.b));
    for (let i = 0; i < n; i++) expect(Math.abs(got[i] - a[i] / b[i])).toBeLessThanOrEqual(1e-3 * Math.abs(a[i] / b[i]) + 2 ** -16);
  });

  it('one divisor per row of a', async () => {
    const a = quantize(Array.from({ length: 40 }, (_, i) => Math.cos(i) * 30));
    const rows = quantize([3, -0.25, 1000, 7]);
    const got = await runNn({ a: { values: a, shape: [4, 10] }, b: { values: rows } }, (p, s) => divide(p, s.a, s.b, { outBound: 2 ** 9 }));
    for (let i = 0; i < 40; i++) {
      const want = a[i] / rows[Math.floor(i / 10)];
      expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(1e-3 * Math.abs(want) + 2 ** -16);
    }
  });

  it('declared cost equals measured cost; 14 rounds', async () => {
    for (const n of [1, 33]) {
      const inputs = { b: fixedInput(Array.from({ length: n }, (_, i) => 1 + i * 7.5)), a: fixedInput(Array.from({ length: 2 * n }, (_, i) => i - n), [n, 2]) };
      expectCost(await measureOp(inputs, (p, s) => divide(p, s.a, s.b)), divideCost(2 * n, n));
    }
    expect(divideCost(4096, 4096).rounds).toBe(14);
  });

  it('rejects shapes that do not pair up', async () => {
    await expect(runNn({ a: { values: [1, 2, 3] }, b: { values: [1, 2] } }, (p, s) => divide(p, s.a, s.b))).rejects.toThrow(/does not match/);
  });
});
