import { describe, expect, it } from 'vitest';
import { gelu } from './gelu.ts';
import { exp } from './exp.ts';
import { softmaxLast } from './softmax.ts';
import { layerNorm } from './layernorm.ts';
import { reciprocal } from './reciprocal.ts';
import { gelu as geluRef, layerNormRow, softmaxRow } from './reference.ts';
import { linspace, maxAbsError, maxRelError, quantize, runNn } from './test-support.ts';

describe('sessions with 16 fraction bits', () => {
  const F = 16;

  it('gelu, exp and reciprocal keep their accuracy', async () => {
    const xs = linspace(-8, 8, 401);
    const g = await runNn({ x: { values: xs } }, (p, s) => gelu(p, s.x), F, F);
    expect(maxAbsError(g, Array.from(quantize(xs, F), geluRef)).err).toBeLessThanOrEqual(2e-3);
    const neg = linspace(-14, 0, 401);
    const e = await runNn({ x: { values: neg } }, (p, s) => exp(p, s.x), F, F);
    // exp's squarings run in Z_2^32 at 15 fraction bits whatever the session's (exp.ts: worst case 4.4e-4).
    expect(maxAbsError(e, Array.from(quantize(neg, F), Math.exp)).err).toBeLessThanOrEqual(6e-4);
    const pos = linspace(1, 1000, 301);
    const r = await runNn({ x: { values: pos } }, (p, s) => reciprocal(p, s.x, { positive: true, outScale: 36 }), 36, F);
    expect(maxRelError(r, Array.from(quantize(pos, F), (v) => 1 / v)).err).toBeLessThanOrEqual(1e-3);
  });

  it('softmax and layerNorm', async () => {
    const x = quantize(linspace(-10, 5, 48).map((v, i) => v * ((i % 5) - 2)), F);
    const sm = await runNn({ x: { values: x, shape: [4, 12] } }, (p, s) => softmaxLast(p, s.x), F, F);
    const want: number[] = [];
    for (let r = 0; r < 4; r++) want.push(...softmaxRow(x.subarray(r * 12, (r + 1) * 12)));
    expect(maxAbsError(sm, want).err).toBeLessThanOrEqual(2e-3);
    const gamma = quantize(linspace(0.5, 1.5, 12), F);
    const beta = quantize(linspace(-1, 1, 12), F);
    const ln = await runNn({ x: { values: x, shape: [4, 12] }, g: { values: gamma }, b: { values: beta } }, (p, s) => layerNorm(p, s.x, s.g, s.b, 1e-5), F, F);
    const wantLn: number[] = [];
    for (let r = 0; r < 4; r++) wantLn.push(...layerNormRow(x.subarray(r * 12, (r + 1) * 12), gamma, beta, 1e-5));
    expect(maxAbsError(ln, wantLn).err).toBeLessThanOrEqual(5e-3);
  });

  it('exp refuses sessions whose fraction bits leave x/8 inexact at its working scale', async () => {
    await expect(runNn({ x: { values: [-1] } }, (p, s) => exp(p, s.x), 20, 20)).rejects.toThrow(/fraction bits/);
  });
});
