/**
 * View simulation (@puma/protocol/view-test-support) of the inverse construction (inverse.ts): lanes evaluated
 * beside the comparisons, the selection's raw dot product (fused.ts dotLastRaw), and the norms' pre-scaled
 * lanes and softmax's shifted lanes, picked by bit times value (norm-scale.ts, inverse.ts), with their
 * products, and the small norms' lanes times gamma picked the same way (norm-scale.ts normScaleTimes: the 3 x 24
 * rmsNorm and one 100 x 8 rmsNorm; the layerNorms and the other 100 x 8 rmsNorm take R and then the product). For each party, nothing it receives depends on the secret input unless it also depends on the key
 * that party lacks. Sizes below and above 3072 values per step, where the truncation and b2a dealers rotate.
 */
import { describe, expect, it } from 'vitest';
import type { AShare } from '@puma/protocol';
import { assertNoLeak, baseWorld, describeReports, fixedViewInput, NoZeroShareParty, openWords, runWorld, simulateViews, type ViewProgram } from '@puma/protocol/view-test-support';
import { dotLastRaw } from './fused.ts';
import { layerNorm } from './layernorm.ts';
import { reciprocal } from './reciprocal.ts';
import { layerNormRow } from './reference.ts';
import { rmsNorm } from './rmsnorm.ts';
import { softmaxLast } from './softmax.ts';

const A = (s: unknown) => s as AShare;

function decode(words: BigUint64Array): number[] {
  return Array.from(words, (w) => Number(BigInt.asIntN(64, w)) / 2 ** 18);
}

describe('view simulation: inverse (lanes and selection)', () => {
  it('dotLastRaw: no leak; the mutant without the zero sharing leaks at every party', async () => {
    const inputs = { x: fixedViewInput([6, 9], 0, 2, 51), y: fixedViewInput([6, 9], -3, 3, 53) };
    const program: ViewProgram<BigUint64Array> = async (p, s) => p.backend.read((await dotLastRaw(p, A(s.x), A(s.y))).s0);
    const clean = await simulateViews(inputs, program);
    assertNoLeak(clean, 'some');
    const mutant = await simulateViews(inputs, program, { party: (o) => new NoZeroShareParty(o) });
    expect(mutant.map((r) => r.leaks > 0), describeReports(mutant)).toEqual([true, true, true]);
  });

  it.each([[2, 40], [4, 768]])('layerNorm %i x %i: no received word depends on the secret without the missing key', async (rows, cols) => {
    const inputs = { x: fixedViewInput([rows, cols], -4, 4, 61), g: fixedViewInput([cols], 0.5, 1.5, 63), b: fixedViewInput([cols], -1, 1, 65) };
    const program: ViewProgram<BigUint64Array> = async (p, s) => p.backend.read((await layerNorm(p, A(s.x), A(s.g), A(s.b), 1e-5)).s0);
    assertNoLeak(await simulateViews(inputs, program), 'every');
    // The views are of a real evaluation: the opened result matches float64 LayerNorm.
    const { results } = await runWorld(baseWorld(inputs), inputs, program);
    const got = decode(openWords(results));
    const [x, g, b] = [inputs.x.base, inputs.g.base, inputs.b.base].map(decode);
    for (let r = 0; r < rows; r++) {
      const want = layerNormRow(x.slice(r * cols, (r + 1) * cols), g, b, 1e-5);
      want.forEach((v, j) => expect(Math.abs(got[r * cols + j] - v)).toBeLessThan(5e-3));
    }
  });

  it('rmsNorm 3 x 24: no leak; without the zero sharing the parties receiving reshared products see the secret', async () => {
    const inputs = { x: fixedViewInput([3, 24], -4, 4, 67), g: fixedViewInput([24], 0.5, 1.5, 69) };
    const program: ViewProgram<BigUint64Array> = async (p, s) => p.backend.read((await rmsNorm(p, A(s.x), A(s.g), 1e-5)).s0);
    const clean = await simulateViews(inputs, program);
    assertNoLeak(clean, 'some');
    const mutant = await simulateViews(inputs, program, { party: (o) => new NoZeroShareParty(o) });
    expect(mutant.some((r) => r.leaks > 0), describeReports(mutant)).toBe(true);
  });

  // 100 rows: 4000 lane values and bits per step (40 octaves), past 3072, where the lanes' and bit times value's
  // dealers rotate; both ways of forming m R (norm.ts laneProducts), gamma into every lane being 32000 products.
  it.each([['R, then the product', 0], ['gamma into the lanes', Infinity]])('rmsNorm 100 x 8, %s: no leak', async (_, laneProducts) => {
    const inputs = { x: fixedViewInput([100, 8], -4, 4, 71), g: fixedViewInput([8], 0.5, 1.5, 73) };
    const reports = await simulateViews(inputs, async (p, s) => p.backend.read((await rmsNorm(p, A(s.x), A(s.g), 1e-5, { laneProducts })).s0));
    assertNoLeak(reports, 'some');
  }, 400_000);

  // On a published window (norm.ts minVar / maxVar, mean square 0.25 to 30 at n = 8: S in [2^1, 2^8)) the octave
  // comparisons run on a 15-bit window (inverse.ts comparisonWindow, belowHi): other message widths. 3 x 24 with
  // the mutant that drops the zero sharing; 500 x 8 gives 3500 comparisons and lane values, past 3072.
  it('rmsNorm 3 x 24 on a published window: no leak; the mutant without the zero sharing leaks', async () => {
    const inputs = { x: fixedViewInput([3, 24], -4, 4, 77), g: fixedViewInput([24], 0.5, 1.5, 79) };
    const program: ViewProgram<BigUint64Array> = async (p, s) => p.backend.read((await rmsNorm(p, A(s.x), A(s.g), 1e-5, { minVar: 0.25, maxVar: 30 })).s0);
    assertNoLeak(await simulateViews(inputs, program), 'some');
    const mutant = await simulateViews(inputs, program, { party: (o) => new NoZeroShareParty(o) });
    expect(mutant.some((r) => r.leaks > 0), describeReports(mutant)).toBe(true);
  });

  it('rmsNorm 500 x 8 on a published window: no leak', async () => {
    const inputs = { x: fixedViewInput([500, 8], -4, 4, 81), g: fixedViewInput([8], 0.5, 1.5, 83) };
    const reports = await simulateViews(inputs, async (p, s) => p.backend.read((await rmsNorm(p, A(s.x), A(s.g), 1e-5, { minVar: 0.25, maxVar: 30 })).s0));
    assertNoLeak(reports, 'some');
  }, 400_000);

  // Softmax's denominator picks lanes pre-shifted by the octave with bit times value (inverse.ts, shifted):
  // 520 rows of 8 give 520 x 6 = 3120 lane values per step, past 3072, where the dealers rotate.
  it('softmax 520 x 8 (the reciprocal by shifted lanes): no leak', async () => {
    const inputs = { x: fixedViewInput([520, 8], -10, 10, 75) };
    const reports = await simulateViews(inputs, async (p, s) => p.backend.read((await softmaxLast(p, A(s.x))).s0));
    assertNoLeak(reports, 'some');
  }, 600_000);

  // At n = 128 the 28 lanes and comparisons per element (3584 values) have rotating dealers.
  it.each([8, 128])('signed reciprocal, n = %i: no leak', async (n) => {
    const inputs = { x: fixedViewInput([n], -100, 100, 71) };
    const reports = await simulateViews(inputs, async (p, s) => p.backend.read((await reciprocal(p, A(s.x), { lo: -6, hi: 8 })).s0));
    assertNoLeak(reports, 'some');
  });

  it.each([8, 512])('positive reciprocal on the narrow comparison window (softmax denominators), n = %i: no leak', async (n) => {
    const inputs = { x: fixedViewInput([n], 1, 100, 73) };
    const reports = await simulateViews(inputs, async (p, s) => p.backend.read((await reciprocal(p, A(s.x), { positive: true, lo: -1, hi: 7 })).s0));
    assertNoLeak(reports, 'some');
  });
});
