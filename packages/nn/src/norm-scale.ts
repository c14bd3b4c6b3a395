/**
 * The norms' per-row scale R = C / sqrt(S) for a secret S in [2^lo, 2^hi) (a row's sum of squares plus n eps),
 * selected from lanes that already carry the public factor, so one product with the multiplicand follows:
 *   R = sum_k oh_k L_k,   L_k = phi_k Q(v_k),   phi_k = C 2^-(k+1)/2,   v_k = 4 S 2^-(k+1) - 3
 * (oh the one-hot of S's highest set bit, Q the degree-4 minimax fit of 1/sqrt on [0.5, 1) of coefficients.ts).
 * After PUMA (arXiv 2307.12533) section 4: normalise with the highest set bit, polynomial on the normalised
 * value. The lanes (every octave evaluated beside the comparisons) are inverse.ts's; what differs is the
 * selection: the bits pick pre-scaled lanes by bit times value (protocol bitMul.ts, after ABY3 section 5.4's bit
 * injection), so no b2a, no product with a selected phi, no second product with gamma.
 * 1. Comparisons l_j = [S < 2^j - zone] for j = lo..hi-1 (inverse.ts comparisonWindow, belowHi since S < 2^hi:
 *    the narrow window on hi - lo + 8 bits, 2 rounds by dealer tables up to 24 octaves and 7 up to 26, else the 64-bit msb, 8
 *    rounds, as on the whole ring's range of 34 to 60 octaves that the norms take without a published window).
 * 2. Beside them (6 rounds): v_k by one truncation (inverse.ts laneArguments), v_k^2 at V2_SCALE bits (one
 *    mulTrunc), then the lane itself in one fused product with phi_k folded into the coefficients:
 *      L_k = [b0 + b1 v + b2 v^2] + v^2 [b3 v + b4 v^2],   b_i = round(phi_k a_i 2^(P - sigma_i))
 *    (sigma_i the scale of the power it multiplies), truncated from the product's P fraction bits to rScale.
 *    P is one per group of lanes whose phi_k span at most 2^4.4 (8 octaves): high enough that b3 keeps
 *    COEF_BITS bits relative to phi_k, low enough that phi_k Q 2^P stays below 2^61. (Before: Q at 20 bits,
 *    then w_k Q_k truncated per group, 8 rounds.)
 * 3. R = L_{hi-1} - l_lo L_lo + sum_{j>lo} l_j (L_{j-1} - L_j): bit times value (2 rounds), summed locally. The
 *    differences telescope exactly in the ring, so the garbage of the lanes outside S's octave (v_k far outside
 *    [-1, 1], out-of-range products) is multiplied by exact zeros and cancels.
 * The caller forms m at mScale = 61 - ceil(log2 outBound) - rScale fraction bits and multiplies, y = m R (2
 * rounds), which stays below 2^61 whenever |y| <= outBound. normScaleTimes instead multiplies m into every lane
 * first, E_k = m L_k truncated (2 rounds, while the comparisons finish), and selects among the E_k: the same
 * y two rounds sooner (the lanes, 6 rounds, plus the product end with the comparisons' 8), for K times the
 * products and selections; for small shapes (norm.ts laneProducts: one generated token of a narrow model).
 * rScale gives the smallest R (at the top octave) R_BITS bits of relative precision, and is at least MIN_R_SCALE.
 * Cost: 10 rounds to R (max(8, 6) + 2), 12 with the caller's product; normScaleTimes 10 to m R when m is ready
 * within the lanes' 6 rounds. On a domain of at most 24 octaves 8 and 10 (the lanes' 6 hide the tables' 2), of
 * 25 or 26 octaves 9 and 11. Bytes per element of S per lane: a comparison (241 bits on the msb), a lane
 * truncation, two mulTrunc (v^2 and the lane) and a bit times value; normScaleTimes per element of m per lane:
 * a mulTrunc and a bit times value.
 * Error (relative, on R): Q's fit 7.4e-5 (up to 1.41 times that in the comparison window's zone), about 1e-5
 * from fixed point (v's and v^2's last bits, the b_i's 2^-COEF_BITS), 2^-16 from L_k's last bit at the top
 * octave. Asserted: 2e-4 against float64 over [2^-8, 2^26), [2^-34, 2^26), [2^2, 2^12), [2^-3, 2^17) and [2^-6, 2^4) at 36
 * fraction bits (the last three on the narrow window). S below 2^lo
 * gives exactly 0; S at or above 2^hi is outside the domain (needs xScale + hi <= 62 so the true lane's v_k does
 * not overflow).
 */
import {
  add, addPublicRaw, broadcastLast, concatFlat, lessThanNarrowCost, msbCost, mulBitMany, mulBitManyCost, mulPublicRawVec, numel, reshape, seq, sliceFlat, splitFlat, sub, sumLast, transpose,
  truncateCost, type AShare, type CompareWindow, type Cost, type Party,
} from '@puma/protocol';
import { RSQRT } from './coefficients.ts';
import { ceilLog2, fixedBig, par, ZERO_COST } from './fixed.ts';
import { mulTrunc, mulTruncCost, productSumTrunc, zerosLike } from './fused.ts';
import { comparisonWindow, laneArguments, laneVector, octaveBits, selectLanes } from './inverse.ts';
import { POLY_SCALE } from './poly.ts';

/** Relative precision of the smallest R (top octave) at rScale bits. */
const R_BITS = 16;
/**
 * Fewest fraction bits of R: norm-matmul.ts fuses only at rScale >= 17 (its beta W row), which a domain of small
 * S (a published window of rows with variance below 1) would otherwise not reach.
 */
const MIN_R_SCALE = 17;
/** Fraction bits of v^2 (v itself is at POLY_SCALE). */
const V2_SCALE = 17;
/** The cubic coefficient b3 keeps this many bits relative to phi_k (rounding below 2^-19 of the lane). */
const COEF_BITS = 18;
/** Largest Q(v) over the true lane's v (1/sqrt of the window zone's smallest c, about 0.48). */
const Q_MAX = 1.45;
/** Scales of the powers the coefficients b_0..b_4 multiply: 1, v, v^2, v^2 v, v^2 v^2. */
const SIGMA = [0, POLY_SCALE, V2_SCALE, V2_SCALE + POLY_SCALE, 2 * V2_SCALE];

export interface NormScaleOptions {
  /** The domain of S is [2^lo, 2^hi). */
  lo: number;
  hi: number;
  /** Fraction bits of S. */
  xScale: number;
  /** Public factor C of R = C / sqrt(S). */
  constant: number;
  /** Bound on |m R|, the caller's product. */
  outBound: number;
}

interface LaneGroup {
  /** First lane and number of lanes. */
  start: number;
  count: number;
  /** Fraction bits P of the group's fused product. */
  scale: number;
}

export interface NormScalePlan {
  o: NormScaleOptions;
  lanes: number;
  window?: CompareWindow;
  zone: bigint;
  laneBits: number;
  /** Fraction bits of R, and those the caller's multiplicand must carry. */
  rScale: number;
  mScale: number;
  groups: LaneGroup[];
  /** b_0..b_4 per lane, at their group's scale. */
  coeffs: bigint[][];
}

export function normScalePlan(o: NormScaleOptions): NormScalePlan {
  const { lo, hi, xScale, constant: C } = o;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi <= lo) throw new Error(`normScale: range exponents must be integers with lo < hi, got [${lo}, ${hi})`);
  if (lo < -xScale) throw new Error(`normScale: 2^${lo} is below the resolution of ${xScale} fraction bits`);
  if (xScale + hi > 62) throw new Error(`normScale: 2^${hi} at ${xScale} fraction bits does not fit below 2^62`);
  if (!(C > 0) || !(o.outBound > 0)) throw new Error(`normScale: constant and outBound must be positive, got ${C} and ${o.outBound}`);
  const logPhi = (j: number) => Math.log2(C) - (lo + j + 1) / 2;
  const rScale = Math.max(MIN_R_SCALE, Math.ceil(R_BITS - logPhi(hi - lo - 1)));
  const mScale = 61 - Math.max(0, ceilLog2(o.outBound)) - rScale;
  if (rScale + logPhi(0) + 1 > 60 || mScale < 1) throw new Error(`normScale: R over [2^${lo}, 2^${hi}) with output bound ${o.outBound} does not fit in the ring`);
  const K = hi - lo;
  // Groups from the largest phi (lane 0) up: P keeps the group's largest phi_k Q 2^P below 2^61; a lane joins
  // while its b3 still gets COEF_BITS bits at that P.
  const groups: LaneGroup[] = [];
  const coeffs: bigint[][] = [];
  let start = 0;
  while (start < K) {
    const scale = Math.floor(61 - Math.log2(Q_MAX) - logPhi(start) - 1e-9);
    let end = start + 1;
    while (end < K && COEF_BITS + SIGMA[3] - logPhi(end) <= scale) end++;
    if (COEF_BITS + SIGMA[3] - logPhi(start) > scale || scale - rScale < 1 || scale - rScale > 61) throw new Error(`normScale: lane ${lo + start} has no scale that fits the ring`);
    for (let j = start; j < end; j++) coeffs.push(RSQRT.coeffs.map((a, i) => fixedBig(a * 2 ** logPhi(j), scale - SIGMA[i])));
    groups.push({ start, count: end - start, scale });
    start = end;
  }
  return { o, lanes: K, ...comparisonWindow({ signed: false, lo, hi, xScale }, true), laneBits: Math.max(0, hi + xScale - POLY_SCALE), rScale, mScale, groups, coeffs };
}

const compareCost = (n: number, pl: NormScalePlan): Cost => (pl.window ? lessThanNarrowCost(n * pl.lanes, pl.window) : msbCost(n * pl.lanes));

/** Cost of the lanes L_k for n values of S. */
function lanesCost(n: number, pl: NormScalePlan): Cost {
  const nl = n * pl.lanes;
  return seq(pl.laneBits > 0 ? truncateCost(nl, pl.laneBits) : ZERO_COST, mulTruncCost(nl), par(...pl.groups.map((g) => mulTruncCost(g.count * n))));
}

/** Declared cost of R for n values of S. */
export function normScaleCost(n: number, pl: NormScalePlan): Cost {
  return seq(par(compareCost(n, pl), lanesCost(n, pl)), mulBitManyCost(n * pl.lanes));
}

/** Lane j for S's octave lo + j at rScale fraction bits: [K * n], lane-major. */
async function lanes(p: Party, flat: AShare, pl: NormScalePlan): Promise<AShare> {
  const n = numel(flat);
  const { lo, hi, xScale } = pl.o;
  const v = await laneArguments(p, flat, { lo, hi, signed: false, xScale }, pl.laneBits);
  const v2 = await mulTrunc(p, v, v, 2 * POLY_SCALE - V2_SCALE);
  const parts = await p.parallel(...pl.groups.map((g) => (c: Party) => {
    const span = (x: AShare) => sliceFlat(c, x, g.start * n, [g.count * n]);
    const b = (i: number) => laneVector(pl.coeffs.slice(g.start, g.start + g.count).map((w) => w[i]), n);
    const [gv, gv2] = [span(v), span(v2)];
    const low = addPublicRaw(c, add(c, mulPublicRawVec(c, gv, b(1)), mulPublicRawVec(c, gv2, b(2))), b(0));
    const high = add(c, mulPublicRawVec(c, gv, b(3)), mulPublicRawVec(c, gv2, b(4)));
    return productSumTrunc(c, [[gv2, high]], g.scale - pl.rScale, low);
  }));
  return concatFlat(p, parts);
}

/** R = C / sqrt(S) at pl.rScale fraction bits, one per element of S (same shape). */
export function normScale(p: Party, s: AShare, pl: NormScalePlan): Promise<AShare> {
  const n = numel(s);
  const flat = reshape(s, [n]);
  return p.profile('normScale', async () => {
    const [bits, scaled] = await p.parallel((b) => octaveBits(b, flat, { ...pl.o, signed: false }, pl), (b) => lanes(b, flat, pl));
    return reshape(await selectLanes(p, bits, scaled, n, pl.lanes), s.shape);
  });
}

/** Cost of normScaleTimes for `rows` values of S, m [rows, cols] formed by mCost beside the lanes. */
export function normScaleTimesCost(rows: number, cols: number, pl: NormScalePlan, mCost: Cost): Cost {
  const products = rows * cols * pl.lanes;
  return seq(par(compareCost(rows, pl), seq(par(lanesCost(rows, pl), mCost), mulTruncCost(products))), mulBitManyCost(rows * pl.lanes, cols));
}

/**
 * m R / 2^bits for S [rows] and m [rows, cols] (m from `formM`, run beside the lanes): E_k = m L_k / 2^bits for
 * every lane, then E_{hi-1} - l_lo E_lo + sum_{j>lo} l_j (E_{j-1} - E_j) by bit times value, each bit of a row
 * with the cols values of that row (the differences of the truncated E_k telescope exactly, garbage included).
 */
export function normScaleTimes(p: Party, s: AShare, formM: (q: Party) => Promise<AShare>, pl: NormScalePlan, bits: number): Promise<AShare> {
  const rows = numel(s);
  const K = pl.lanes;
  const flat = reshape(s, [rows]);
  return p.profile('normScale', async () => {
    const [octaves, e] = await p.parallel(
      (b) => octaveBits(b, flat, { ...pl.o, signed: false }, pl),
      async (b) => {
        const [l, m] = await b.parallel((c) => lanes(c, flat, pl), formM);
        if (m.shape.length !== 2 || m.shape[0] !== rows) throw new Error(`normScaleTimes: m of shape [${m.shape.join(', ')}] does not have ${rows} rows`);
        const cols = m.shape[1];
        // [K, rows, cols]: lane k times every row's m.
        return mulTrunc(b, concatFlat(b, Array.from({ length: K }, () => reshape(m, [rows * cols]))), reshape(broadcastLast(b, l, cols), [K * rows * cols]), bits);
      },
    );
    const cols = numel(e) / (K * rows);
    const prev = concatFlat(p, [zerosLike(p, [rows * cols]), sliceFlat(p, e, 0, [(K - 1) * rows * cols])]);
    // Value i of mulBitMany is column i over the K * rows bits: [cols, K * rows].
    const diffs = transpose(p, reshape(sub(p, prev, e), [K * rows, cols]), [1, 0]);
    const picked = await mulBitMany(p, octaves, splitFlat(p, reshape(diffs, [cols * K * rows]), Array.from({ length: cols }, () => [K * rows])));
    // Sum over lanes: [cols, K, rows] -> [rows, cols, K].
    const summed = sumLast(p, transpose(p, reshape(concatFlat(p, picked), [cols, K, rows]), [2, 0, 1]));
    return add(p, summed, reshape(sliceFlat(p, e, (K - 1) * rows * cols, [rows * cols]), [rows, cols]));
  });
}
