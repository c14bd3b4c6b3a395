/**
 * Byte histograms of what the parties receive during layerNormOfResidual (protocol security.test.ts's method:
 * 256 bins, chi-square against uniform, threshold 400 with 255 degrees of freedom, probability < 1e-8), honest
 * and with a planted mutant: the centring without its fresh zero sharing (layernorm-residual.ts header). Then C's
 * mask is the producer's zero sharing u under u -> n u - sum(u), which clears the low 8 bits of n u at n = 768, so
 * every word of a row that a party receives in C's opening ends in the same byte. Each such word depends on a key
 * the receiver lacks, so the view rule (view-simulation.test.ts) cannot see it; the histograms do.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Party } from '@puma/protocol';
import { chi2Uniform, fixedInput, randomFloats, receivedBytes, runWithInputs } from '@puma/protocol/test-support';
import { layerNormOfResidual } from './layernorm-residual.ts';
import { sumOf } from './norm-matmul-test-support.ts';
import { rowsWithStd } from './test-support.ts';

const [ROWS, N] = [4, 768];

/** Received bytes per party while the op runs (the sum's term is made before and sends nothing). */
async function histograms(mutant: boolean): Promise<number[][]> {
  const { hist, observe } = receivedBytes();
  // Parties whose next zero sharing (the centring's) the mutant draws as zeros.
  const armed = new WeakSet<Party>();
  const zeroShare = Party.prototype.zeroShare;
  if (mutant) {
    vi.spyOn(Party.prototype, 'zeroShare').mockImplementation(function (this: Party, tag: string, n: number) {
      if (!armed.has(this)) return zeroShare.call(this, tag, n);
      armed.delete(this);
      return this.backend.zeros(n);
    });
  }
  const inputs = {
    b: fixedInput(randomFloats(ROWS * N, -2, 2, 5), [ROWS, N]), p: fixedInput(rowsWithStd([1, 2, 3, 4], N, 6), [ROWS, N], 36),
    g: fixedInput(new Array(N).fill(1)), be: fixedInput(new Array(N).fill(0)),
  };
  await runWithInputs(inputs, async (p, s) => {
    const sum = sumOf(p, s.b, s.p);
    armed.add(p);
    return layerNormOfResidual(p, sum, s.g, s.be, 1e-5);
  }, { observe });
  return hist;
}

describe('layerNormOfResidual: what parties receive', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is uniform; without the centring\'s fresh zero sharing it is not (a leak the view rule cannot see)', async () => {
    const honest = (await histograms(false)).map(chi2Uniform);
    const mutant = (await histograms(true)).map(chi2Uniform);
    console.log(`chi2: honest ${honest.map((v) => v.toFixed(0)).join(', ')}; mutant ${mutant.map((v) => v.toFixed(0)).join(', ')}`);
    for (const v of honest) expect(v).toBeLessThan(400);
    expect(Math.max(...mutant)).toBeGreaterThan(400);
  });
});
