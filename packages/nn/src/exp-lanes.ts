/**
 * exp(x) for x <= 0 in 5 rounds (exp.ts: 11): piecewise polynomials evaluated side by side ("lanes"), one
 * picked by comparison bits, so neither the squarings nor the mask product sit after the comparison.
 * Formula: three pieces on [-14, -6), [-6, -2.5), [-2.5, 0.025]; piece k evaluates
 *   L_k(x) = P_k(v_k),  v_k = (x - t_k) / 2^s_k  (t_k its top, a public shift; s_k = 3, 2, 2),
 * P_k the degree-6 Chebyshev interpolant of exp(2^s_k v + t_k) on its piece (computed below at load, in
 * float64; worst float64 error 6.2e-6, on the piece below -6 where exp < 2.5e-3). Every lane is evaluated
 * for every element while the comparisons l_j = [x < c_j], c = (-14, -6, -2.5), run (narrow window by
 * dealer tables, 2 rounds); then sum_k oh_k L_k with oh_k = l_{k+1} ^ l_k (l_3 = 1: inverse.ts oneHotWords),
 * each lane times its bit in its chain's last round (protocol maskedChainFinish), reshared, added. Lanes
 * outside x's piece hold garbage (x far below a piece overflows its powers), which exact zeros multiply. Below -14 every bit is 1 and the result is exactly 0 (PUMA's cut: exp(-14) < 8.4e-7).
 * v_k is exact: x at f fraction bits minus the public t_k, read at POLY_SCALE = f + s_k + (21 - 18 - s_k) bits.
 * Each piece's fit reaches 2^-6 above its top, the narrow window's band of either answer (narrowCompare.ts),
 * so an element in the band gets the lower piece, which is still accurate there.
 * Input domain: -1000 <= x <= 0.025 (softmax's narrow max leaves x up to 0.0234 above 0; below -1038 the
 * window wraps). Fraction bits <= 18 (v_k at 21 bits needs f + s_k <= 21).
 * Error: float64 fit 6.2e-6, plus the fixed-point evaluation (poly.ts: powers to 2^-21 times coefficients up
 * to 10.7, the high coefficients to 2^-(pi-41) with pi >= 56) and the output's 1 ulp: asserted 1e-4 on
 * [-14, 0.025] (exp-lanes.test.ts; measured about 2e-5), against 6e-4 for exp.ts's squarings in Z_2^32.
 * Cost: max(comparisons 2 by dealer tables, polynomials 3 levels as masked chains: poly.ts) + the selection and
 * resharing 2 = 5 rounds (8 with the comparisons' 6-round circuit, the polynomials' 3 levels of products and
 * bit times value). Bytes per element per
 * party: 3 lanes of degree 6 (a masked chain each, with its selection), 3 narrow comparisons by tables: about
 * 281 (expLanesCost; 262 with products, the 6-round comparisons and bit times value), 3.1 times exp.ts's 91.4. Softmax uses it where its bytes are small (softmax.ts).
 * Paper: PUMA (arXiv 2307.12533) section 4 (exp with the cut at -14); lanes picked by comparison bits as in
 * this package's inverse.ts.
 */
import {
  addPublicRaw, concatFlat, fixedPointWindow, lessThanNarrowCost, lessThanPublicNarrow, mulPublicInt, NARROW_BITS, numel, reshape, seq,
  type AShare, type BShare, type ChainRun, type Cost, type Party,
} from '@puma/protocol';
import { par } from './fixed.ts';
import { laneVector, selectedRuns } from './inverse.ts';
import { POLY_SCALE, polyEvalLevels, polyFinishCost, polyLevelsCost } from './poly.ts';

/** Degree of every piece: 3 multiplication levels (poly.ts), one round each in a masked chain. */
const DEGREE = 6;
/** The narrow window's band of either answer (2^-6 at the softmax's window): each fit reaches this far up. */
const BAND = 2 ** -6;

interface Piece {
  /** Lower end of the piece (the comparison threshold below it). */
  lo: number;
  /** Public shift t: v = (x - t) / 2^shift. */
  top: number;
  shift: number;
  /** Upper end of the piece's fit (the next piece's lo, or the domain's top), before the band. */
  hi: number;
}

const PIECES: readonly Piece[] = [
  { lo: -14, top: -6, shift: 3, hi: -6 },
  { lo: -6, top: -2.5, shift: 2, hi: -2.5 },
  { lo: -2.5, top: 0, shift: 2, hi: 0.025 },
];

/** Monomial coefficients (lowest first) of the degree-d interpolant of f at the Chebyshev nodes of [a, b]. */
function chebyshevInterpolant(f: (v: number) => number, a: number, b: number, d: number): number[] {
  const n = d + 1;
  const nodes = Array.from({ length: n }, (_, k) => Math.cos((Math.PI * (k + 0.5)) / n));
  const ys = nodes.map((t) => f((a + b) / 2 + ((b - a) / 2) * t));
  const cheb = Array.from({ length: n }, (_, j) => ((j === 0 ? 1 : 2) / n) * nodes.reduce((s, t, k) => s + ys[k] * Math.cos(j * Math.acos(t)), 0));
  // T_j as monomials in t, then t = (v - mid) / half expanded into monomials in v.
  const T: number[][] = [[1], [0, 1]];
  for (let j = 2; j < n; j++) {
    const r = new Array<number>(j + 1).fill(0);
    T[j - 1].forEach((c, i) => { r[i + 1] += 2 * c; });
    T[j - 2].forEach((c, i) => { r[i] -= c; });
    T.push(r);
  }
  const inT = new Array<number>(n).fill(0);
  for (let j = 0; j < n; j++) T[j].forEach((c, i) => { inT[i] += cheb[j] * c; });
  const mid = (a + b) / 2;
  const half = (b - a) / 2;
  const inV = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let binom = 1;
    for (let k = 0; k <= i; k++) {
      inV[k] += (inT[i] * binom * (-mid) ** (i - k)) / half ** i;
      binom = (binom * (i - k)) / (k + 1);
    }
  }
  return inV;
}

interface Lane extends Piece {
  coeffs: number[];
  /** max |v| over the piece and its band. */
  bound: number;
}

const LANES: readonly Lane[] = PIECES.map((pc) => {
  const a = (pc.lo - pc.top) / 2 ** pc.shift;
  const b = (pc.hi + BAND - pc.top) / 2 ** pc.shift;
  return { ...pc, coeffs: chebyshevInterpolant((v) => Math.exp(2 ** pc.shift * v + pc.top), a, b, DEGREE), bound: Math.max(Math.abs(a), Math.abs(b)) };
});

/** The pieces' lower ends and fitted polynomials (for tests and documentation). */
export const EXP_LANES: ReadonlyArray<{ lo: number; top: number; shift: number; coeffs: readonly number[] }> = LANES;

const K = LANES.length;

export const expLanesCost = (n: number): Cost =>
  seq(par(lessThanNarrowCost(K * n, { drop: 0, bits: NARROW_BITS, tables: true }), ...LANES.map(() => polyLevelsCost(n, DEGREE))), par(...LANES.map(() => polyFinishCost(n, DEGREE, 1, {}, true))));

/** Lane k's polynomial chain at v_k = (x - t_k) / 2^s_k (exact, see the header), up to its result at the session's fraction bits. */
function lane(p: Party, x: AShare, ln: Lane): Promise<ChainRun> {
  const shifted = addPublicRaw(p, x, BigInt.asUintN(64, -BigInt(ln.top * 2 ** p.fracBits)));
  const v = mulPublicInt(p, shifted, 1n << BigInt(POLY_SCALE - p.fracBits - ln.shift));
  return polyEvalLevels(p, v, [ln.coeffs], { bound: ln.bound, outScale: p.fracBits });
}

/** exp(x) elementwise for x <= 0, any shape (domain and error in the header). */
export function expLanes(p: Party, x: AShare): Promise<AShare> {
  const maxBits = POLY_SCALE - Math.max(...LANES.map((l) => l.shift));
  if (p.fracBits > maxBits) return Promise.reject(new Error(`exp: needs at most ${maxBits} fraction bits, session has ${p.fracBits}`));
  return p.profile('exp', async () => {
    const n = numel(x);
    const flat = reshape(x, [n]);
    const thresholds = LANES.map((l) => -BigInt(l.lo * 2 ** p.fracBits));
    const [bits, ...runs] = await p.parallel(
      (q) => lessThanPublicNarrow(q, addPublicRaw(q, concatFlat(q, LANES.map(() => flat)), laneVector(thresholds, n)), 0, { ...fixedPointWindow(q.fracBits), tables: true }),
      ...LANES.map((ln) => (q: Party) => lane(q, flat, ln)),
    ) as [BShare, ...ChainRun[]];
    // Piece k's one-hot l_{k+1} ^ l_k times its lane, in each chain's last round; the pieces' results add up.
    return reshape(await selectedRuns(p, runs, bits, n, K, LANES.map((_, k) => [k, 1] as const)), x.shape);
  });
}
