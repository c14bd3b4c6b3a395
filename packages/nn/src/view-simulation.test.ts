/**
 * View simulation of whole nn functions (@puma/protocol/view-test-support): GeLU, SwiGLU, the max of all-pairs groups,
 * causal softmax and LayerNorm chain comparisons, b2a, bit times value, fused products and truncations in
 * parallel branches. For each party, nothing it receives from the others depends on the secret input unless
 * it also depends on randomness fresh to that party (the harness checks each message against the missing
 * key's draws after that party's earlier messages, so intermediate shares do not hide a leak). Each runs
 * small (party 0 deals every truncation and b2a chunk) and, where affordable, at a size whose ops reach 3072
 * elements, where the dealers rotate; at that size every planted mutant of the harness must be reported, at
 * the party it leaks to, by every function that runs the code it breaks.
 * Why these once missed the zero-share mutant: Party.parallel made its branch contexts plain Party objects,
 * so a mutant subclass lost its override inside every parallel branch (the dealers' chunks, GeLU's
 * branches); and changing the missing key everywhere also changed the intermediate shares a leaking op
 * started from, so its unmasked words still moved with the key. Branches now keep the subclass, and the
 * harness changes only the draws that are fresh to the observer at each message.
 */
import { describe, expect, it } from 'vitest';
import { concatFlat, matmul, mulPublicInt, truncateProduct, type AShare, type Party } from '@puma/protocol';
import {
  assertNoLeak, baseWorld, dealerMaskMutants, describeReports, fixedViewInput, NoZeroShareParty, NoZeroShareXorParty, openWords, runWorld, simulateViews, zeroDraws,
  type PlantedMutant, type ViewInput,
} from '@puma/protocol/view-test-support';
import { gelu } from './gelu.ts';
import { swiglu } from './swiglu.ts';
import { layerNorm } from './layernorm.ts';
import { layerNormOfResidual } from './layernorm-residual.ts';
import { sumOf } from './norm-matmul-test-support.ts';
import { rmsNorm } from './rmsnorm.ts';
import { maxLastWide } from './max.ts';
import { gelu as geluRef } from './reference.ts';
import { attendInto, attendOfProduct, softmaxLast } from './softmax.ts';

type Program = (p: Party, s: Record<string, unknown>) => Promise<AShare>;

interface Composite {
  name: string;
  program: Program;
  /** Sizes of the leak-free check here: small (party 0 deals everything) and, where affordable, rotated. */
  clean: Array<['small' | 'rotated' | 'tables', Record<string, ViewInput>]>;
  /** Inputs at which the ops inside reach ROTATE_FROM elements, so all three dealers deal: the mutants run here. */
  rotated: Record<string, ViewInput>;
  /** Whose views the secret must reach at the small size (default every party's). */
  smallReaches?: 'every' | 'some';
}

const A = (s: unknown) => s as AShare;
const norm = (rows: number, cols: number) => ({
  x: fixedViewInput([rows, cols], -4, 4, 61), g: fixedViewInput([cols], 0.5, 1.5, 63), b: fixedViewInput([cols], -1, 1, 65),
});

const geluIn = { small: { x: fixedViewInput([64], -6, 6, 41) }, rotated: { x: fixedViewInput([3072], -6, 6, 41) } };
// 96 rows of 32: 3072 win bits and bit-times-value products.
const maxIn = { small: { x: fixedViewInput([2, 32], -30, 30, 43) }, rotated: { x: fixedViewInput([96, 32], -30, 30, 43) } };
// 3 heads of 32 x 32: 3072 scores (the exp and the selections reach the rotating dealers). Its leak-free check
// runs small only (at 3072 scores it took 5.4 minutes on the loaded 2-core machine); its rotated parts are checked leak-free
// in gelu and the max here and in the reciprocal of inverse-view-simulation.test.ts.
const softmaxIn = { small: { x: fixedViewInput([2, 8, 8], -20, 20, 47) }, rotated: { x: fixedViewInput([3, 32, 32], -20, 20, 47) } };

// SwiGLU's four comparisons per gate and their bit-times-up products reach 8192 at 2048 gates.
const swigluIn = {
  small: { g: fixedViewInput([16], -14, 14, 51), u: fixedViewInput([16], -3, 3, 53) },
  rotated: { g: fixedViewInput([2048], -14, 14, 51), u: fixedViewInput([2048], -3, 3, 53) },
  // 512 gates: the comparisons by dealer tables (piecewise.ts gatedByTables; 2048 take the circuit), 2048 of them.
  tables: { g: fixedViewInput([512], -14, 14, 51), u: fixedViewInput([512], -3, 3, 53) },
};

const COMPOSITES: Composite[] = [
  { name: 'swiglu', program: (p, s) => swiglu(p, A(s.g), A(s.u)), clean: [['small', swigluIn.small], ['rotated', swigluIn.rotated], ['tables', swigluIn.tables]], rotated: swigluIn.rotated },
  { name: 'gelu', program: (p, s) => gelu(p, A(s.x)), clean: [['small', geluIn.small], ['rotated', geluIn.rotated]], rotated: geluIn.rotated },
  // By protocol tableMax.ts at both sizes; small, party 0 deals every group and receives nothing.
  { name: 'max of all-pairs groups', program: (p, s) => maxLastWide(p, A(s.x)), clean: [['small', maxIn.small], ['rotated', maxIn.rotated]], rotated: maxIn.rotated, smallReaches: 'some' },
  // At the small size party 0 deals every chunk of the max's, exp's and the reciprocal's tables and chains, and
  // receives nothing.
  { name: 'causal softmax', program: (p, s) => softmaxLast(p, A(s.x), { causal: { queryOffset: 0 } }), clean: [['small', softmaxIn.small]], rotated: softmaxIn.rotated, smallReaches: 'some' },
  // The scores as an untruncated product (x times 2^f: 2f fraction bits): its truncation runs beside the max,
  // e V beside the reciprocal (rotated: 3072 scores and 3072 context entries).
  {
    name: 'causal attention of a product', program: (p, s) => attendOfProduct(p, mulPublicInt(p, A(s.x), 2 ** p.fracBits), A(s.v), { causal: { queryOffset: 0 } }),
    clean: [['small', { ...softmaxIn.small, v: fixedViewInput([2, 8, 4], -3, 3, 49) }]], rotated: { ...softmaxIn.rotated, v: fixedViewInput([3, 32, 32], -3, 3, 49) }, smallReaches: 'some',
  },
  // The same with the output projection per head (attendInto): e V's product with W_o's head blocks beside the
  // reciprocal, then the term (the residual at its scale) truncated as the next norm would (rotated: 3072 e V
  // entries, 3 x 32 x 32 scores).
  {
    name: 'causal attention into its output projection',
    program: async (p, s) => {
      const w = A(s.w);
      const t = await attendInto(p, mulPublicInt(p, A(s.x), 2 ** p.fracBits), A(s.v), { matmul: (q, blocks) => matmul(q, blocks, w), out: w.shape[1] }, A(s.b), { causal: { queryOffset: 0 } });
      return truncateProduct(p, t.term, t.shape, t.fracBits - p.fracBits);
    },
    clean: [['small', { ...softmaxIn.small, v: fixedViewInput([2, 8, 4], -3, 3, 49), w: fixedViewInput([8, 5], -0.5, 0.5, 57), b: fixedViewInput([8, 5], -3, 3, 59) }]],
    rotated: { ...softmaxIn.rotated, v: fixedViewInput([3, 32, 32], -3, 3, 49), w: fixedViewInput([96, 8], -0.5, 0.5, 57), b: fixedViewInput([32, 8], -3, 3, 59) },
    smallReaches: 'some',
  },
  // Leak-free checks in inverse-view-simulation.test.ts. 128 rows: the inverse's lanes and comparisons per row
  // (3584 values) reach the rotating dealers.
  { name: 'layerNorm', program: (p, s) => layerNorm(p, A(s.x), A(s.g), A(s.b), 1e-5), clean: [], rotated: norm(128, 24) },
  // 100 rows of 8 multiply gamma into R's 40 lanes when told to (norm-scale.ts normScaleTimes): 4000 bits and
  // 32000 products (leak-free check in inverse-view-simulation.test.ts).
  {
    name: 'rmsNorm with gamma into the lanes', program: (p, s) => rmsNorm(p, A(s.x), A(s.g), 1e-5, { laneProducts: Infinity }),
    clean: [], rotated: { x: fixedViewInput([100, 8], -4, 4, 71), g: fixedViewInput([8], 0.5, 1.5, 73) },
  },
  // base x plus the product x 2^f (2f fraction bits), as each party's term; width 24 = 3 * 8 has an odd factor.
  {
    name: 'layerNorm of a residual', clean: [['small', norm(4, 24)]], rotated: norm(128, 24),
    program: (p, s) => layerNormOfResidual(p, sumOf(p, A(s.x), mulPublicInt(p, A(s.x), 2 ** p.fracBits)), A(s.g), A(s.b), 1e-5),
  },
  // Without gamma and beta (folded into the next matmul by the owner: norm.ts noScale): m is d itself.
  {
    name: 'layerNorm of a residual without gamma', clean: [['small', norm(4, 24)]], rotated: norm(128, 24),
    program: (p, s) => layerNormOfResidual(p, sumOf(p, A(s.x), mulPublicInt(p, A(s.x), 2 ** p.fracBits)), null, null, 1e-5),
  },
  // On a narrow published window d' keeps the session's fraction bits.
  {
    name: 'layerNorm of a residual on a window', clean: [['small', norm(4, 24)]], rotated: norm(128, 24),
    program: (p, s) => layerNormOfResidual(p, sumOf(p, A(s.x), mulPublicInt(p, A(s.x), 2 ** p.fracBits)), A(s.g), A(s.b), 1e-5, { minVar: 1e-3, maxVar: 1e3 }),
  },
];

interface Mutant extends PlantedMutant {
  /** Composites that do not run the code this mutant breaks into a word-level leak, and why. */
  notIn?: Record<string, string>;
}

// The max's levels go by protocol tableMax.ts here (its dealer's tables and keyed shares, then halves.ts's
// resharing; no zero-shared or XOR resharing): the dealer-mask, stream-0 and stream-2 mutants reach it, its own
// mutants are in the protocol's view-simulation.test.ts.
const TABLE_MAX_ONLY = 'its levels go by protocol tableMax.ts, which reshares by dealer keys only';
/** The norms on the whole ring's range (64-bit msb comparisons; their lanes and selection are masked chains). */
const NORMS = ['layerNorm', 'layerNorm of a residual', 'layerNorm of a residual without gamma'];

const MUTANTS: Mutant[] = [
  {
    name: 'resharing without the zero sharing', options: { party: (o) => new NoZeroShareParty(o) }, observer: 0,
    notIn: { 'max of all-pairs groups': TABLE_MAX_ONLY },
  },
  {
    name: 'boolean resharing without the XOR zero sharing', options: { party: (o) => new NoZeroShareXorParty(o) }, observer: 0,
    notIn: {
      'max of all-pairs groups': TABLE_MAX_ONLY,
      // Its one comparison, the row scale's octaves on the published window, goes by dealer tables (protocol
      // tableCompare.ts), which reshare nothing by XOR; the dealer-pad mutants below cover those tables.
      'layerNorm of a residual on a window': 'its comparisons go by dealer tables, with no XOR resharing',
      // The max by tableMax, exp's piece comparisons and the reciprocal's octaves all by dealer tables.
      'causal softmax': 'its comparisons go by dealer tables, with no XOR resharing',
      'causal attention of a product': 'its comparisons go by dealer tables, with no XOR resharing',
      'causal attention into its output projection': 'its comparisons go by dealer tables, with no XOR resharing',
    },
  },
  ...dealerMaskMutants().map((m): Mutant => ({
    ...m,
    // The norms' elements past ROTATE_FROM go through the kept x's truncation (protocol truncateWrap.ts, whose
    // dealer sends nothing this mutant can unmask), fused products, whose zero-shared terms hide a dealer mask from
    // the view rule (the protocol's mutant (a) builds its product term from components to see it), and the row
    // scale's lanes and selection as masked chains (protocol maskedChain.ts: masks at streams 0 and 2, which the
    // stream-0 mutant below reaches; the chain's own mutants (n), (o) and (p) are in the protocol's
    // view-simulation.test.ts).
    notIn: Object.fromEntries([...(m.observer !== 2 ? NORMS : []), ...(m.observer !== 1 ? ['layerNorm of a residual on a window'] : [])]
      .map((name) => [name, `no dealer truncation of a replicated share reaches dealer ${(m.observer + 2) % 3}`])),
  })),
  // A truncation's second round: B of dealer 0 sends its half masked by nothing, whichever truncation it is.
  {
    name: 'party 2 draws zeros for its stream-0 masks (a truncation\'s resharing half)', options: { backend: zeroDraws(2, 0) }, observer: 1,
  },
  {
    name: 'party 1 draws zeros for its stream-2 masks (bit times value\'s alpha)', options: { backend: zeroDraws(1, 2) }, observer: 0,
    notIn: {
      // Its only other effect, the msb(r) share of party 1's truncation chunks sent unmasked, is a one-bit
      // statistical leak that a word-level view check cannot see (view-test-support.ts's file comment).
      gelu: 'gelu runs no bit times value',
      ...Object.fromEntries([...NORMS, 'layerNorm of a residual on a window'].map((name) => [name, 'its selection is the masked chain\'s (protocol maskedChain.ts), no bit times value'])),
    },
  },
];

describe('view simulation of nn functions: no leak', () => {
  for (const c of COMPOSITES.filter((k) => k.clean.length)) {
    it.each(c.clean)(`${c.name}, %s: no received word depends on the secret without fresh randomness`, async (size, inputs) => {
      // Every party receives secret-dependent (masked) words (the comparisons' AND gates reach all three), except
      // where one dealer deals everything and hears nothing (smallReaches).
      assertNoLeak(await simulateViews(inputs, c.program), size === 'small' ? c.smallReaches ?? 'every' : 'every');
    }, 600_000);
  }

  it('the views are of a real evaluation: the opened GeLU matches float64 within 2e-3 on [-6, 6]', async () => {
    const inputs = geluIn.small;
    const { results } = await runWorld(baseWorld(inputs), inputs, async (p, s) => p.backend.read((await gelu(p, A(s.x))).s0));
    const got = openWords(results);
    inputs.x.base.forEach((v, j) => {
      const x = Number(BigInt.asIntN(64, v)) / 2 ** 18;
      expect(Math.abs(Number(BigInt.asIntN(64, got[j])) / 2 ** 18 - geluRef(x))).toBeLessThan(2e-3);
    });
  });
});

describe('view simulation of nn functions: every planted mutant is reported at the rotated size', () => {
  for (const c of COMPOSITES) {
    for (const m of MUTANTS.filter((k) => !k.notIn?.[c.name])) {
      it(`${c.name}: ${m.name} leaks to party ${m.observer}`, async () => {
        const [report] = await simulateViews(c.rotated, c.program, { ...m.options, observers: [m.observer], untilLeak: true });
        expect(report.leaks, describeReports([report])).toBeGreaterThan(0);
      }, 600_000);
    }
  }
});
