/**
 * View simulation (@puma/protocol/view-test-support) of a norm that feeds its matmul with the row scale after
 * the product (norm-matmul.ts), on layerNormOfResidualMatmul with y kept: the residual's truncations, the sum
 * of squares and R (norm-scale.ts) beside m = d gamma and the matmul of m with beta's row (truncated by the
 * op's own bits), then R (m W) + beta W and R m + beta in one round. For each party, nothing it receives depends
 * on the secret inputs unless it also depends on randomness fresh to that party. Small: party 0 deals every
 * truncation. Rotated: 128 rows of 24 into 24 columns, so the products R (m W) (3072) and m W with beta's row
 * (3096) reach the rotating dealers, and every planted mutant must be reported at the party it leaks to.
 * The term at fixed fraction bits (rmsNormMatmulTermAt, RoPE's qkv: R and z at normTermPlan's balanced bits on
 * a published window, then the term truncated as rope-qkv.ts does) sends the same kinds of messages at other
 * scales; it runs the same check, as does RMSNorm of a residual sum given as its term (protocol truncateSquares
 * opens it, R starts from the rows' squares).
 */
import { describe, expect, it } from 'vitest';
import { concatFlat, mulPublicInt, truncateProduct, type AShare, type Party } from '@puma/protocol';
import {
  assertNoLeak, dealerMaskMutants, describeReports, fixedViewInput, NoZeroShareParty, NoZeroShareXorParty, simulateViews, zeroDraws, type PlantedMutant,
} from '@puma/protocol/view-test-support';
import { layerNormOfResidualMatmul } from './layernorm-residual.ts';
import { matmulTruncBy, sumOf } from './norm-matmul-test-support.ts';
import { rmsNormMatmul, rmsNormMatmulTermAt } from './rmsnorm.ts';

const A = (s: unknown) => s as AShare;
const OUT = 24;
const inputs = (rows: number, n: number) => ({
  x: fixedViewInput([rows, n], -4, 4, 81), g: fixedViewInput([n], 0.5, 1.5, 83), b: fixedViewInput([n], -1, 1, 85), w: fixedViewInput([n, OUT], -0.5, 0.5, 87),
});
const small = inputs(4, 24);
const rotated = inputs(128, 24);

/** base x plus the product x 2^f (2f fraction bits); width 24 = 3 * 8 runs the odd factor's extra truncation. */
async function program(p: Party, s: Record<string, unknown>): Promise<AShare> {
  const mm = { matmul: (q: Party, m: AShare, bits: number) => matmulTruncBy(q, m, A(s.w), bits), out: OUT, keepY: true };
  const r = await layerNormOfResidualMatmul(p, sumOf(p, A(s.x), mulPublicInt(p, A(s.x), 2 ** p.fracBits)), A(s.g), A(s.b), 1e-5, mm);
  return concatFlat(p, [r.y as AShare, r.yw]);
}

/** RMSNorm(x) W as a term at 2f on a published window (x in [-4, 4]: mean square below 2^4), truncated by f. */
async function termProgram(p: Party, s: Record<string, unknown>): Promise<AShare> {
  const w = A(s.w);
  const mm = { matmul: (q: Party, m: AShare, bits: number) => matmulTruncBy(q, m, w, bits), out: OUT, matmulTerm: () => Promise.reject(new Error('the window fuses')) };
  const t = await rmsNormMatmulTermAt(p, A(s.x), A(s.g), 1e-5, mm, 2 * p.fracBits, { minVar: 2 ** -6, maxVar: 2 ** 4 });
  return truncateProduct(p, p.backend.add(t.z, p.zeroShare(p.nextTag(), t.z.length)), t.shape, p.fracBits);
}

/** RMSNorm of a residual sum given as its term (x + x 2^f / 2^f: base and product), fed into W; d kept. */
async function sumProgram(p: Party, s: Record<string, unknown>): Promise<AShare> {
  const x = A(s.x);
  const be = p.backend;
  const term = be.add(be.add(be.mulScalar(x.s0, 1n << BigInt(p.fracBits)), be.mulScalar(x.s0, 1n << BigInt(p.fracBits))), p.zeroShare(p.nextTag(), x.s0.length));
  const mm = { matmul: (q: Party, m: AShare, bits: number) => matmulTruncBy(q, m, A(s.w), bits), out: OUT };
  const r = await rmsNormMatmul(p, { term, shape: x.shape, fracBits: 2 * p.fracBits }, A(s.g), 1e-5, mm);
  return concatFlat(p, [r.d, r.yw]);
}

describe('view simulation of a norm feeding its matmul (norm-matmul.ts)', () => {
  it.each([['small (party 0 deals)', small], ['rotated (all dealers)', rotated]])('%s: no received word depends on the secret without fresh randomness', async (_, sizes) => {
    assertNoLeak(await simulateViews(sizes, program), 'every');
  }, 600_000);

  it.each([['small (party 0 deals)', small], ['rotated (all dealers)', rotated]])('the term at fixed bits, %s: no received word depends on the secret without fresh randomness', async (_, sizes) => {
    assertNoLeak(await simulateViews(sizes, termProgram), 'every');
  }, 600_000);

  it.each([['small (party 0 deals)', small], ['rotated (all dealers)', rotated]])('a residual sum\'s term (protocol truncateSquares), %s: no received word depends on the secret without fresh randomness', async (_, sizes) => {
    assertNoLeak(await simulateViews(sizes, sumProgram), 'every');
  }, 600_000);

  const mutants: PlantedMutant[] = [
    { name: 'resharing without the zero sharing', options: { party: (o) => new NoZeroShareParty(o) }, observer: 0 },
    { name: 'boolean resharing without the XOR zero sharing', options: { party: (o) => new NoZeroShareXorParty(o) }, observer: 0 },
    // Dealers 0 and 2 deal only the row scale's masked chains and fused products here, where a dealer mask
    // drawn from the receiver's key is hidden from the view rule (zero-shared terms) or unused (protocol
    // maskedChain.ts has its own mutants (n), (o) and (p)); the chain's stream-0 masks are planted below.
    ...dealerMaskMutants().filter((m) => m.observer === 2),
    { name: 'party 2 draws zeros for its stream-0 masks (the chains\' opening halves, a resharing half)', options: { backend: zeroDraws(2, 0) }, observer: 1 },
  ];
  it.each(mutants.map((m) => [m.name, m] as const))('rotated, planted mutant %s: reported at the party it leaks to', async (_, m) => {
    const [report] = await simulateViews(rotated, program, { ...m.options, observers: [m.observer], untilLeak: true });
    expect(report.leaks, describeReports([report])).toBeGreaterThan(0);
  }, 600_000);
});
