/**
 * The norms' per-row scale R = C / sqrt(S) for a secret S in [2^lo, 2^hi) (a row's sum of squares plus n eps),
 * selected from lanes that already carry the public factor, so one product with the multiplicand follows:
 *   R = sum_k oh_k L_k,   L_k = phi_k Q(v_k),   phi_k = C 2^-(k+1)/2,   v_k = 4 S 2^-(k+1) - 3
 * (oh the one-hot of S's highest set bit, Q the degree-4 minimax fit of 1/sqrt on [0.5, 1) of coefficients.ts).
 * After PUMA (arXiv 2307.12533) section 4: normalise with the highest set bit, polynomial on the normalised
 * value. The lanes (every octave evaluated beside the comparisons) are inverse.ts's; what differs is the
 * selection: the one-hot bits pick pre-scaled lanes in each lane chain's own last round (inverse.ts selectedRuns,
 * protocol maskedChainFinish), so no b2a, no product with a selected phi, no second product with gamma.
 * 1. Comparisons l_j = [S < 2^j - zone] for j = lo..hi-1 (inverse.ts comparisonWindow, belowHi since S < 2^hi:
 *    the narrow window on hi - lo + 8 bits, 2 rounds by dealer tables up to 24 octaves and 7 up to 26, else the 64-bit msb, 8
 *    rounds, as on the whole ring's range of 34 to 60 octaves that the norms take without a published window).
 * 2. Beside them (3 rounds: one masked chain per lane group, protocol maskedChain.ts, whose levels take one round
 *    each): v_k = 4 S 2^-(k+1) - 3 by one truncation (level 0), v_k^2 at V2_SCALE bits (level 1), then the lane
 *    itself in one fused product with phi_k folded into the coefficients (level 2) (6 rounds as separate
 *    truncations and products, with the resharing):
 *      L_k = [b0 + b1 v + b2 v^2] + v^2 [b3 v + b4 v^2],   b_i = round(phi_k a_i 2^(P - sigma_i))
 *    (sigma_i the scale of the power it multiplies), truncated from the product's P fraction bits to rScale.
 *    P is one per group of lanes whose phi_k span at most 2^4.4 (8 octaves): high enough that b3 keeps
 *    COEF_BITS bits relative to phi_k, low enough that phi_k Q 2^P stays below 2^61. (Before: Q at 20 bits,
 *    then w_k Q_k truncated per group, 8 rounds.)
 * 3. R = sum_k oh_k L_k with oh_k = l_{k+1} ^ l_k (l_hi = 1; the bits are monotone, so this is l_{k+1} - l_k:
 *    inverse.ts oneHotWords, local), each lane times its bit in the chain's own last round (the dealer shares
 *    t = b_D ^ b_A and t times the lane's mask components: protocol maskedChainFinish), reshared (1 round) and
 *    summed over the lanes locally: 2 rounds after the later of the lanes and the bits. The lanes outside S's
 *    octave (v_k far outside [-1, 1], out-of-range products) hold garbage that exact zeros multiply. (Before:
 *    the lanes reshared, then bit times value on telescoped differences, 3 rounds.)
 * The caller forms m at mScale = 61 - ceil(log2 outBound) - rScale fraction bits and multiplies, y = m R (2
 * rounds), which stays below 2^61 whenever |y| <= outBound. normScaleTimes instead multiplies m into every lane
 * first, E_k = m L_k truncated (2 rounds, while the comparisons finish), and selects among the E_k: the same
 * y two rounds sooner where the comparisons are the whole ring's msb (the lanes, 4 rounds, plus the product end
 * before the comparisons' 8), for K times the
 * products and selections; for small shapes (norm.ts laneProducts: one generated token of a narrow model).
 * rScale gives the smallest R (at the top octave) R_BITS bits of relative precision, and is at least MIN_R_SCALE,
 * unless the caller fixes it (NormScaleOptions.rScale: a norm whose product must land at given fraction bits,
 * norm-matmul.ts normTermPlan, gives up some of R's bits).
 * Cost: 10 rounds to R (max(8, 3) + 2), 12 with the caller's product; normScaleTimes 10 to m R when m is ready
 * within the lanes' 4 rounds. On a domain of at most 24 octaves 5 and 7 (the lanes' 3 hide the tables' 2), of
 * 25 or 26 octaves 9 and 11. From d with S's term (normScaleOfSquares): max(1 + comparisons, 3) + 2, 5 on a
 * window by tables. Bytes per element of S per lane: a comparison (241 bits on the msb), the lane's chain (three
 * openings and the selection, maskedChainCost); normScaleTimes per
 * element of m per lane: a mulTrunc and a bit times value.
 * Error (relative, on R): Q's fit 7.4e-5 (up to 1.41 times that in the comparison window's zone), about 1e-5
 * from fixed point (v's and v^2's last bits, the b_i's 2^-COEF_BITS), 2^-16 from L_k's last bit at the top
 * octave. Asserted: 2e-4 against float64 over [2^-8, 2^26), [2^-34, 2^26), [2^2, 2^12), [2^-3, 2^17) and [2^-6, 2^4) at 36
 * fraction bits (the last three on the narrow window). S below 2^lo
 * gives exactly 0; S at or above 2^hi is outside the domain (needs xScale + hi <= 62 so the true lane's v_k does
 * not overflow).
 */
import {
  add, addPublicRaw, broadcastLast, concatFlat, lessThanNarrowCost, maskedChainFinish, maskedChainFinishCost, maskedChainLevels, maskedChainLevelsCost, msbCost, mulBitMany, mulBitManyCost, numel, reshape, reshare, seq, sliceFlat, splitFlat, sub, sumLast, transpose,
  type AShare, type BShare, type ChainCoef, type ChainForm, type ChainProgram, type ChainRun, type CompareWindow, type Cost, type Party,
} from '@puma/protocol';
import { RSQRT } from './coefficients.ts';
import { ceilLog2, fixedBig, par } from './fixed.ts';
import { dotLastOpenTerm, dotLastRawCost, mulTrunc, mulTruncCost, zerosLike } from './fused.ts';
import { comparisonWindow, laneVector, octaveBits, selectedRuns } from './inverse.ts';
import { POLY_SCALE } from './poly.ts';

type Buf = AShare['s0'];

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
  /** Fraction bits of R, where the caller fixes them (default: R_BITS at the top octave, at least MIN_R_SCALE). */
  rScale?: number;
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
  if (o.rScale !== undefined && (!Number.isInteger(o.rScale) || o.rScale < 1)) throw new Error(`normScale: R's fraction bits must be a positive integer, got ${o.rScale}`);
  const rScale = o.rScale ?? Math.max(MIN_R_SCALE, Math.ceil(R_BITS - logPhi(hi - lo - 1)));
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

/**
 * One group's lanes as a masked chain (protocol maskedChain.ts) over S repeated once per lane: level 0 c = S w_k
 * / 2^laneBits (w_k the lane's shift, exact when laneBits is 0), v = 4 c - 3; level 1 v^2; level 2 the lane
 * [b0 + b1 v + b2 v^2] + v^2 [b3 v + b4 v^2] / 2^(P - rScale). Without values (the declared cost) the
 * coefficients are placeholders of the same structure.
 */
function groupProgram(pl: NormScalePlan, g: LaneGroup, n: number, values = true, fromTerm?: { addend: bigint }): ChainProgram {
  const W = POLY_SCALE;
  const lanes = Array.from({ length: g.count }, (_, j) => g.start + j);
  // A public word per lane (repeated over the n elements), from the lane's index; one placeholder without values.
  const vec = (w: (j: number) => bigint): ChainCoef => (values ? laneVector(lanes.map((j) => BigInt.asUintN(64, w(j))), n) : 1n);
  const b = (j: number, i: number): bigint => BigInt.asIntN(64, pl.coeffs[j][i]);
  const minus3 = -(3n << BigInt(W));
  // With v = 4 c - 3 (c atom 0, v^2 atom 1): low = b0 + b1 v + b2 v^2 and high = b3 v + b4 v^2 as forms in c and v^2.
  const low: ChainForm = { atoms: [[0, vec((j) => 4n * b(j, 1))], [1, vec((j) => b(j, 2))]], constant: vec((j) => b(j, 0) + minus3 * b(j, 1)) };
  const high: ChainForm = { atoms: [[0, vec((j) => 4n * b(j, 3))], [1, vec((j) => b(j, 4))]], constant: vec((j) => minus3 * b(j, 3)) };
  const v: ChainForm = { atoms: [[0, 4n]], constant: BigInt.asUintN(64, minus3) };
  const level0 = fromTerm
    ? { addend: { constant: vec((j) => laneShift(pl, j) * fromTerm.addend) }, terms: [0], bits: pl.laneBits }
    : { addend: { inputs: [[0, vec((j) => laneShift(pl, j))]] as Array<[number, ChainCoef]> }, bits: pl.laneBits };
  return {
    levels: [[level0], [{ products: [[v, v]], bits: 2 * W - V2_SCALE }], [{ products: [[{ atoms: [[1, 1n]] }, high]], addend: low, bits: g.scale - pl.rScale }]],
    outputs: [{ atoms: [[2, 1n]] }],
  };
}

/** Lane j's public factor on S: 2^(K-1-j) (S 2^-(k+1) read at xScale + hi bits), times 2^up where no truncation follows. */
function laneShift(pl: NormScalePlan, j: number): bigint {
  const up = 1n << BigInt(Math.max(0, POLY_SCALE - (pl.o.hi + pl.o.xScale)));
  return (1n << BigInt(pl.lanes - 1 - j)) * (pl.laneBits > 0 ? 1n : up);
}

/** The groups' chains up to their lanes (levels), and their finishing: the lanes themselves, or times their one-hot bits. */
function levelsCost(n: number, pl: NormScalePlan, fromTerm = false): Cost {
  return par(...pl.groups.map((g) => maskedChainLevelsCost(g.count * n, groupProgram(pl, g, n, false, fromTerm ? { addend: 0n } : undefined))));
}
function finishCost(n: number, pl: NormScalePlan, select: boolean): Cost {
  return par(...pl.groups.map((g) => maskedChainFinishCost(g.count * n, groupProgram(pl, g, n, false), select)));
}

/** Declared cost of R for n values of S. */
export function normScaleCost(n: number, pl: NormScalePlan): Cost {
  return seq(par(compareCost(n, pl), levelsCost(n, pl)), finishCost(n, pl, true));
}

/**
 * Each group's lane chain up to its last level (maskedChainLevels), over S replicated or S given as this party's
 * 3-of-3 term z plus a public addend: then each chain opens z w_k + addend w_k at its level 0 (the term times the
 * lane's public shift, local), so S needs no resharing first.
 */
function laneRuns(p: Party, source: { s: AShare } | { z: Buf; addend: bigint }, pl: NormScalePlan): Promise<ChainRun[]> {
  const be = p.backend;
  const n = 's' in source ? numel(source.s) : source.z.length;
  return p.parallel(...pl.groups.map((g) => (c: Party) => {
    if ('s' in source) return maskedChainLevels(c, groupProgram(pl, g, n), [concatFlat(c, Array.from({ length: g.count }, () => source.s))]);
    const shifts = laneVector(Array.from({ length: g.count }, (_, j) => laneShift(pl, g.start + j)), n);
    const spread = be.mul(be.concat(Array.from({ length: g.count }, () => source.z)), be.upload(shifts));
    return maskedChainLevels(c, groupProgram(pl, g, n, true, { addend: source.addend }), [], [spread]);
  }));
}

/** The lanes themselves, lane j for S's octave lo + j at rScale fraction bits: [K * n], lane-major. */
async function finishedLanes(p: Party, runs: ChainRun[]): Promise<AShare> {
  return concatFlat(p, await p.parallel(...runs.map((run) => async (c: Party) => (await maskedChainFinish(c, run))[0])));
}

/** R = sum_k oh_k L_k per element of S, from each group's lane run (inverse.ts selectedRuns). */
function selectedLanes(p: Party, runs: ChainRun[], bits: BShare, pl: NormScalePlan, n: number): Promise<AShare> {
  return selectedRuns(p, runs, bits, n, pl.lanes, pl.groups.map((g) => [g.start, g.count] as const));
}

/** Declared cost of normScaleOfSquares for `rows` rows. */
export function normScaleOfSquaresCost(rows: number, pl: NormScalePlan): Cost {
  return seq(par(seq(dotLastRawCost(rows), compareCost(rows, pl)), levelsCost(rows, pl, true)), finishCost(rows, pl, true));
}

/**
 * R = C / sqrt(S) for S = sum over the last axis of d^2 + addend (raw, at twice d's fraction bits), one per row:
 * the sum's 3-of-3 term is reshared for the comparisons (1 round, then theirs) while the lanes' chains open the
 * term itself at their level 0, so the lanes start without waiting for the resharing; then the selection by the
 * one-hot bits (1 round) and the resharing (1): R in max(1 + comparisons, 3) + 2 rounds after d (5 on a window by
 * tables, where S, the lanes and the selection took 9).
 */
export function normScaleOfSquares(p: Party, d: AShare, addend: bigint, pl: NormScalePlan): Promise<AShare> {
  return normScaleOfSquaresTerm(p, dotLastOpenTerm(p, d, d), addend, pl);
}

/**
 * normScaleOfSquares from the rows' sums of squares given as this party's masked 3-of-3 term and the tag its
 * resharing takes (fused.ts dotLastOpenTerm, or protocol truncateSquares's first round); the same cost.
 */
export function normScaleOfSquaresTerm(p: Party, squares: { z: Buf; shape: readonly number[]; tag: string }, addend: bigint, pl: NormScalePlan): Promise<AShare> {
  return p.profile('normScale', async () => {
    const { z, shape, tag } = squares;
    const rows = z.length;
    const [bits, runs] = await p.parallel(
      async (b) => octaveBits(b, reshape(addPublicRaw(b, await reshare(b, z, shape, tag), addend), [rows]), { ...pl.o, signed: false }, pl),
      (b) => laneRuns(b, { z, addend }, pl),
    );
    return reshape(await selectedLanes(p, runs, bits, pl, rows), shape);
  });
}

/** R = C / sqrt(S) at pl.rScale fraction bits, one per element of S (same shape). */
export function normScale(p: Party, s: AShare, pl: NormScalePlan): Promise<AShare> {
  const n = numel(s);
  const flat = reshape(s, [n]);
  return p.profile('normScale', async () => {
    const [bits, runs] = await p.parallel((b) => octaveBits(b, flat, { ...pl.o, signed: false }, pl), (b) => laneRuns(b, { s: flat }, pl));
    return reshape(await selectedLanes(p, runs, bits, pl, n), s.shape);
  });
}

/** Cost of normScaleTimes for `rows` values of S, m [rows, cols] formed by mCost beside the lanes. */
export function normScaleTimesCost(rows: number, cols: number, pl: NormScalePlan, mCost: Cost): Cost {
  const products = rows * cols * pl.lanes;
  return seq(par(compareCost(rows, pl), seq(par(seq(levelsCost(rows, pl), finishCost(rows, pl, false)), mCost), mulTruncCost(products))), mulBitManyCost(rows * pl.lanes, cols));
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
        const [l, m] = await b.parallel(async (c) => finishedLanes(c, await laneRuns(c, { s: flat }, pl)), formM);
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
