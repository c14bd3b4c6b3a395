/**
 * Security sanity check (not a proof), a complement to the view simulation (view-simulation.test.ts): that one
 * finds received words that depend on the secret without the missing key (a computable mask, a missing zero
 * share), which byte histograms cannot see; this one finds received words whose bytes are not uniform (a mask
 * mixed in too weakly), which the view simulation cannot see. Everything a party receives from another party
 * during mul, matmul, truncation (also with the rows' squares), comparison (by circuit and by dealer tables), the max by dealer tables, the masked chain, equality, b2a and select must look uniformly random, whatever the
 * secret; n = 3072 so the truncation and b2a dealers rotate (dealers.ts). A mutant shows the histograms catch
 * what the view rule cannot: truncateSquares' dealer handing B h^2 and m h in the clear (README, "Truncation with
 * the rows' squares").
 * For each receiving party we histogram the received bytes (256 bins) and run a chi-square test against
 * uniform, for two very different secrets (all zeros, and large random values); and a two-sample chi-square
 * between the two secrets. Threshold: chi2 > 400 with 255 degrees of freedom has probability < 1e-8.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Party } from './party.ts';
import { chi2Uniform, fixedInput, randomFloats, receivedBytes, runWithInputs, termOf } from './test-support.ts';
import { mul } from './ops/mul.ts';
import { matmul } from './ops/matmul.ts';
import { truncate } from './ops/truncateWrap.ts';
import { lessThan } from './ops/lessThan.ts';
import { equal } from './ops/equal.ts';
import { select } from './ops/select.ts';
import { fixedPointWindow, lessThanNarrow } from './ops/narrowCompare.ts';
import { reshape } from './ops/linear.ts';
import type { AShare } from './share.ts';
import { tableMax } from './ops/tableMax.ts';
import { maskedChain } from './ops/maskedChain.ts';
import { truncateCloseSquares, truncateOpenSquares } from './ops/truncateSquares.ts';

/** Bytes each party received from the others (setup excluded) while `program` ran on x = secret. */
async function histogramsOf(secret: Float64Array, program: (p: Party, x: AShare) => Promise<unknown>): Promise<number[][]> {
  const { hist, observe } = receivedBytes();
  await runWithInputs({ x: fixedInput(secret, [32, secret.length / 32]) }, (p, s) => program(p, s.x), { observe });
  return hist;
}

async function receivedHistograms(secret: Float64Array): Promise<number[][]> {
  const { hist, observe } = receivedBytes();
  const n = secret.length;
  await runWithInputs({ x: fixedInput(secret, [32, n / 32]), y: fixedInput(secret.map((v) => v / 2 + 1), [32, n / 32]) }, async (p, s) => {
    await mul(p, s.x, s.y);
    await matmul(p, s.x, s.y, { transB: true });
    await truncate(p, s.x);
    const bit = await lessThan(p, s.x, s.y);
    await equal(p, s.x, s.y);
    await select(p, bit, s.x, s.y);
    await lessThanNarrow(p, s.x, s.y, { ...fixedPointWindow(18), tables: true });
    await tableMax(p, [reshape(s.x, [n / 8, 8])], fixedPointWindow(18));
    await truncateCloseSquares(p, await truncateOpenSquares(p, termOf(p, s.x), s.x.shape));
    await maskedChain(p, {
      levels: [[{ products: [[{ inputs: [[0, 1n]] }, { inputs: [[1, 1n]] }]], bits: 18 }, { addend: { inputs: [[0, 1n]] }, bits: 0 }], [{ products: [[{ atoms: [[0, 1n]] }, { atoms: [[1, 1n]] }]], bits: 36 }]],
      outputs: [{ atoms: [[2, 1n]] }],
    }, [s.x, s.y]);
  }, { observe });
  return hist;
}

function chi2TwoSample(a: number[], b: number[]): number {
  const na = a.reduce((x, y) => x + y, 0);
  const nb = b.reduce((x, y) => x + y, 0);
  let s = 0;
  for (let i = 0; i < 256; i++) {
    const t = a[i] + b[i];
    if (t === 0) continue;
    const ea = (t * na) / (na + nb);
    const eb = (t * nb) / (na + nb);
    s += (a[i] - ea) ** 2 / ea + (b[i] - eb) ** 2 / eb;
  }
  return s;
}

describe('what parties receive', () => {
  it('is uniform and independent of the secret input', async () => {
    const n = 3072;
    const zeros = await receivedHistograms(new Float64Array(n));
    const large = await receivedHistograms(randomFloats(n, -3000, 3000, 77));
    for (let party = 0; party < 3; party++) {
      expect(zeros[party].reduce((a, b) => a + b, 0)).toBeGreaterThan(100_000);
      expect(chi2Uniform(zeros[party]), `party ${party}, zero secret`).toBeLessThan(400);
      expect(chi2Uniform(large[party]), `party ${party}, large secret`).toBeLessThan(400);
      expect(chi2TwoSample(zeros[party], large[party]), `party ${party}, zero vs large`).toBeLessThan(400);
    }
  });
});

describe('the histograms catch a leak the view rule cannot see', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const squares = async (p: Party, x: AShare) => truncateCloseSquares(p, await truncateOpenSquares(p, termOf(p, x), x.shape));

  it("truncateSquares: a dealer sending B h^2 and m h without A's halves subtracted makes B's bytes non-uniform", async () => {
    const n = 3072;
    const secret = randomFloats(n, -3000, 3000, 78);
    const honest = await histogramsOf(secret, squares);
    // The mutant: A's halves of the two extra words (truncate.ts openTruncation, key streams 4 and 5) are zero at
    // both ends, so the result and the squares stay right while B receives h^2 and m h themselves. Each depends
    // only on the dealer's r, never on the secret, so the view simulation passes it; but a square is 0 or 1 mod 4
    // and m h is 0 wherever m is, so B's received bytes are far from uniform.
    const prgWith = Party.prototype.prgWith;
    vi.spyOn(Party.prototype, 'prgWith').mockImplementation(function (this: Party, other, tag, count, stream = 0) {
      return stream >= 4 ? this.backend.zeros(count) : prgWith.call(this, other, tag, count, stream);
    });
    const mutant = await histogramsOf(secret, squares);
    console.log(`chi2: honest ${honest.map(chi2Uniform).map((v) => v.toFixed(0)).join(', ')}; mutant ${mutant.map(chi2Uniform).map((v) => v.toFixed(0)).join(', ')}`);
    for (let party = 0; party < 3; party++) {
      expect(chi2Uniform(honest[party]), `party ${party}, honest`).toBeLessThan(400);
      // Every party is some chunk's B at n = 3072 (the dealers rotate).
      expect(chi2Uniform(mutant[party]), `party ${party}, mutant`).toBeGreaterThan(400);
    }
  });
});
