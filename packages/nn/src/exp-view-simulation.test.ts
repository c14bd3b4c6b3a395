/**
 * View simulation (@puma/protocol/view-test-support) of both exps:
 * - by squarings (exp.ts): the narrow comparison and b2a beside the quartic in Z_2^64, its truncation down to
 *   Z_2^32, the centred squarings in Z_2^32 (32-bit lanes on the wire), the last one lifted back to Z_2^64,
 *   and the selection's ring product;
 * - by lanes (exp-lanes.ts): three narrow comparisons by dealer tables beside three degree-6 polynomials (masked
 *   chains), then the bit-times-value selection.
 * For each party, nothing it receives depends on the secret input unless it also depends on randomness fresh
 * to that party; at 3072 elements every truncation, b2a and bit-times-value dealer deals, and each planted
 * mutant must be reported at the party it leaks to.
 * - a causal softmax's exp (softmax.ts): the visible scores gathered query-major (causal-layout.ts, local), exp
 *   by lanes on those only, scattered back with masked entries 0; at 5 heads of 24 queries x 40 keys, offset
 *   16, 3,420 of 4,800 scores are visible, so the exp's dealers rotate.
 */
import { describe, expect, it } from 'vitest';
import type { AShare } from '@puma/protocol';
import {
  assertNoLeak, baseWorld, dealerMaskMutants, describeReports, fixedViewInput, NoZeroShareParty, NoZeroShareXorParty, openWords, runWorld, simulateViews, zeroDraws,
  type PlantedMutant, type ViewProgram,
} from '@puma/protocol/view-test-support';
import { exp } from './exp.ts';
import { expLanes } from './exp-lanes.ts';
import { gatherVisible, layoutOfShape, scatterVisible } from './causal-layout.ts';

const A = (s: unknown) => s as AShare;
// The squarings' narrow comparison reshares by XOR; the lanes' comparisons go by dealer tables (protocol
// tableCompare.ts), which reshare nothing by XOR: there Q of dealer 0 (party 2) drawing its round-2 mask gamma as
// zeros (protocol mutant (k)) is the comparison's planted leak.
const xorMutant: PlantedMutant = { name: 'boolean resharing without the XOR zero sharing', options: { party: (o) => new NoZeroShareXorParty(o) }, observer: 0 };
const tablesMutant: PlantedMutant = { name: 'the tables\' Q (party 2 for dealer 0) draws its stream-1 masks as zeros', options: { backend: zeroDraws(2, 1) }, observer: 1 };
// At 64 elements party 0 deals every chunk; by lanes (tables, chains) it then receives nothing.
const programs: Array<[string, ViewProgram<AShare>, number, PlantedMutant, 'every' | 'some']> = [
  ['two rings', (p, s) => exp(p, A(s.x)), 6e-4, xorMutant, 'every'],
  ['lanes', (p, s) => expLanes(p, A(s.x)), 1e-4, tablesMutant, 'some'],
];
// Softmax's range after the max: most inputs inside [-14, 0.025], some below the cut at -14.
const small = { x: fixedViewInput([64], -16, 0.025, 71) };
const rotated = { x: fixedViewInput([3072], -16, 0.025, 73) };

describe.each(programs)('view simulation of exp (%s)', (_name, program, bound, comparisonMutant, smallReaches) => {
  it.each([['small (party 0 deals)', small], ['rotated (3072 elements, all dealers)', rotated]])('%s: no received word depends on the secret without fresh randomness', async (_, inputs) => {
    assertNoLeak(await simulateViews(inputs, program), inputs === small ? smallReaches : 'every');
  }, 600_000);

  it('the views are of a real evaluation: the opened result matches float64 exp within the bound (6e-4, lanes 1e-4) on [-14, 0.025] and is 0 below -14 - 2^-6', async () => {
    const { results } = await runWorld(baseWorld(small), small, async (p, s) => p.backend.read((await program(p, s)).s0));
    const got = openWords(results);
    small.x.base.forEach((w, j) => {
      const x = Number(BigInt.asIntN(64, w)) / 2 ** 18;
      const y = Number(BigInt.asIntN(64, got[j])) / 2 ** 18;
      if (x < -14 - 2 ** -6) expect(y).toBe(0);
      else expect(Math.abs(y - (x < -14 ? 0 : Math.exp(x)))).toBeLessThan(bound);
    });
  });

  const mutants: PlantedMutant[] = [
    { name: 'resharing without the zero sharing', options: { party: (o) => new NoZeroShareParty(o) }, observer: 0 },
    comparisonMutant,
    ...dealerMaskMutants(),
  ];
  it.each(mutants.map((m) => [m.name, m] as const))('planted mutant, %s: reported at the party it leaks to', async (_, m) => {
    const [report] = await simulateViews(rotated, program, { ...m.options, observers: [m.observer], untilLeak: true });
    expect(report.leaks, describeReports([report])).toBeGreaterThan(0);
  }, 600_000);
});

/** softmax.ts's causal exp: the visible scores of x [heads, queries, keys] gathered, exp by lanes, scattered back. */
const causalExp: ViewProgram<AShare> = async (p, s) => {
  const x = A(s.x);
  const layout = layoutOfShape(x.shape, 16);
  const rows = layout.toRows(p, x, layout.cols);
  return layout.fromRows(p, scatterVisible(p, await expLanes(p, gatherVisible(p, rows, layout)), layout), x.shape, layout.cols);
};
const causalSmall = { x: fixedViewInput([2, 4, 20], -16, 0.025, 75) };
const causalRotated = { x: fixedViewInput([5, 24, 40], -16, 0.025, 77) };

describe('view simulation of a causal softmax\'s exp (gathered visible scores, lanes)', () => {
  it('small: no received word depends on the secret without fresh randomness; masked entries are exactly 0, visible within 1e-4', async () => {
    assertNoLeak(await simulateViews(causalSmall, causalExp), 'some');
    const { results } = await runWorld(baseWorld(causalSmall), causalSmall, async (p, s) => p.backend.read((await causalExp(p, s)).s0));
    const got = openWords(results);
    causalSmall.x.base.forEach((w, e) => {
      const y = Number(BigInt.asIntN(64, got[e])) / 2 ** 18;
      if (e % 20 > Math.floor(e / 20) % 4 + 16) expect(y).toBe(0);
      else {
        const x = Number(BigInt.asIntN(64, w)) / 2 ** 18;
        if (x >= -14) expect(Math.abs(y - Math.exp(x))).toBeLessThan(1e-4);
      }
    });
  }, 600_000);

  const mutants: PlantedMutant[] = [
    { name: 'resharing without the zero sharing', options: { party: (o) => new NoZeroShareParty(o) }, observer: 0 },
    ...dealerMaskMutants(),
  ];
  it.each(mutants.map((m) => [m.name, m] as const))('planted mutant at 3,420 visible scores, %s: reported at the party it leaks to', async (_, m) => {
    const [report] = await simulateViews(causalRotated, causalExp, { ...m.options, observers: [m.observer], untilLeak: true });
    expect(report.leaks, describeReports([report])).toBeGreaterThan(0);
  }, 600_000);
});
