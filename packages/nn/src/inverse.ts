/**
 * m * x^(-1) and m * x^(-1/2) for a secret x whose magnitude lies in [2^lo, 2^hi): the shared core of
 * reciprocal, division, rsqrt, sqrt, softmax's denominator and the norms' 1/std. After PUMA section 4
 * (normalise with the highest set bit, polynomial on the normalised value) but restructured so the
 * polynomial no longer waits for the highest set bit: it is evaluated for EVERY candidate octave while the
 * comparisons run, and the comparison bits then select one result.
 *
 * 1. Range bits (8 + 2 rounds; 2 + 2 for x >= 0 on up to 22 octaves, by dealer tables on a narrow window: see
 *    comparisonWindow): l_j = [x < 2^j] for j = lo..hi-1 (and g_j = [x > -2^j] when signed) in one batched
 *    comparison, then one b2a. The one-hot of the highest set bit k is oh_k = l_{k+1} - l_k (l_hi = 1),
 *    so any public function of k, phi(k), is a public-weighted sum of the l_j (free): phi(k) = C 2^-(k+1)
 *    (reciprocal) or C 2^-(k+1)/2 (rsqrt), a public constant C folded in (LayerNorm folds sqrt(n) here); for
 *    signed x the negative one-hot enters with a minus sign, so phi carries the sign of x.
 * 2. Lanes, in parallel with 1 (4 rounds): for every octave k, c_k = |x| 2^-(k+1) (one truncation of x
 *    shifted per lane: laneArgument) and Q_k = Q(4 c_k - 3) ~ 1/c_k or 1/sqrt(c_k), the degree-4 minimax
 *    polynomial of coefficients.ts (2 levels), as one masked chain (poly.ts, protocol maskedChain.ts: the
 *    truncation is its level 0, then v^2 and the last product, then one round back to replicated shares). Only the lane of the true octave has c_k in [0.5, 1); the other lanes hold
 *    garbage, which the selection multiplies by exact zeros.
 * 3. Selection: sum_k oh_k Q_k = Q_{hi-1} - l_lo Q_lo + sum_{j>lo} l_j (Q_{j-1} - Q_j), one dot product of the
 *    bits with public-free differences of lanes per element of x (the differences telescope exactly, garbage
 *    included).
 *    - No multiplicand: the lanes are first scaled by the public phi(k) (local), so the selection IS the
 *      result, truncated once: 2 rounds. Total 12 (the msb and b2a, 10, hide the lanes' 4); 6 on a window by tables.
 *    - Multiplicand m: the selection of the normalised Q, raw (1 round), runs beside F = m phi (2 rounds),
 *      then result = F Q (2 rounds). Total 14 on the msb.
 *    - Multiplicand m, x > 0, reciprocal, C = 1 (softmax's denominator): phi(k) = 2^-(k+1) is an exact shift,
 *      so the lanes become L_k = Q_k 2^(hi-1-k), i.e. 1/x at Q_SCALE + hi fraction bits, for free (the chain's
 *      output coefficients); the unconverted comparison bits pick them: each lane times its one-hot bit
 *      l_{k+1} ^ l_k (oneHotWords) in the chain's own last round (protocol maskedChainFinish: 1 round from the
 *      dealer, then the resharing), summed over the lanes; then result = m R (2 rounds). Total max(comparison,
 *      3) + 2 + 2: 7 on the narrow window by tables (8 with b2a, selection and F = m phi). Used when m R fits
 *      below 2^61 at those scales.
 *    (The norms select lanes pre-scaled by phi the same way, phi folded into the polynomial: norm-scale.ts.)
 * Bytes: per element of x, per lane (hi - lo, twice that signed): one comparison at 241 bits, one b2a word,
 * the lane's chain (three openings and the resharing, 21 words in all over the parties where the truncation and two
 * products took 24: maskedChainCost, pinned in fused.test.ts);
 * plus the selection and, per element of m, F and the result. About 2.3 times the bytes of the serial construction per element of
 * x, which is one value per row in softmax and the norms.
 * Error: Q's relative error (2.97e-4 reciprocal, 7.4e-5 rsqrt in float64), plus about 1e-5 relative from
 * fixed-point evaluation and phi's rounding (at most 2^-16 relative), plus 1 ulp of the output. |x| below
 * 2^lo gives exactly 0 (every one-hot entry is 0); |x| at or above 2^hi is outside the domain (it is taken for
 * octave hi - 1: c >= 1, garbage once |x| >= 2^(hi+1)). |result| must stay within outBound.
 */
import { add, bitWords, maskedChainFinish, addPublicRaw, b2a, b2aCost, broadcastLast, concatFlat, lessThanNarrowCost, lessThanPublicNarrow, msb, msbCost, mulPublicInt, mulPublicRawVec, neg, numel, reshape, seq, sliceFlat, sub, sumLast, transpose, type AShare, type BitWords, type BShare, type ChainRun, type CompareWindow, type Cost, type Party } from '@puma/protocol';
import { RECIPROCAL, RSQRT } from './coefficients.ts';
import { dotLastRaw, dotLastRawCost, dotLastTrunc, mulTrunc, mulTruncCost, zerosLike } from './fused.ts';
import { ceilLog2, fixedBig, par } from './fixed.ts';
import { POLY_SCALE, polyCost, polyEval, polyEvalLevels, polyFinishCost, polyLevelsCost, type PolyArgument } from './poly.ts';

type Buf = AShare['s0'];

export type InverseKind = 'reciprocal' | 'rsqrt';

/** Fraction bits of the normalised Q when a multiplicand follows: relative precision 2^-22. */
export const Q_SCALE = 22;
/** Largest tolerated relative rounding of the public weights phi(k) (5% of rsqrt's Q error, 1e-5). */
const MAX_WEIGHT_ERROR = 2 ** -16;

export interface Multiplicand {
  m: AShare;
  /** m has one more (last) axis than x; x's value applies to every entry of that row. */
  broadcast: boolean;
}

export interface InverseOptions {
  kind: InverseKind;
  /** The domain of |x| is [2^lo, 2^hi). */
  lo: number;
  hi: number;
  /** Handle both signs (reciprocal only); doubles the comparisons and lanes. */
  signed: boolean;
  /** Fraction bits of x. */
  xScale: number;
  /** Public factor folded into the result (default 1). */
  constant?: number;
  /** Fraction bits of the multiplicand m, when the result is m x^-power (absent: x^-power alone). */
  mScale?: number;
  /** Fraction bits of the result. */
  outScale: number;
  /** Bound on |result|, for overflow planning (a power of two is rounded up from it). */
  outBound: number;
}

interface Plan {
  /** Comparisons (and lanes) per element of x. */
  lanes: number;
  /** The narrow comparison's window, when x is positive and the range is narrow enough (else the 64-bit msb). */
  window?: CompareWindow;
  /** Subtracted from every threshold 2^j (raw): the window's zone of either answer lies below 2^j. */
  zone: bigint;
  /** Unsigned reciprocal with a multiplicand: lanes scaled by exact shifts, picked in the lane chain's last round (selectedRuns). */
  shifted: boolean;
  /** Truncation of x shifted per lane down to c at POLY_SCALE (0: the shift is exact, no truncation). */
  laneBits: number;
  /** Fraction bits of the lanes' Q. */
  qScale: number;
  /** Fraction bits of the public phi(k). */
  phiScale: number;
  /** No multiplicand: truncation of the phi-scaled selection. With one: of m phi, and of the last product. */
  selectBits: number;
  mBits: number;
  finalBits: number;
}

function plan(o: InverseOptions): Plan {
  const { lo, hi, xScale, kind } = o;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi <= lo) throw new Error(`inverse: range exponents must be integers with lo < hi, got [${lo}, ${hi})`);
  if (lo < -xScale) throw new Error(`inverse: 2^${lo} is below the resolution of ${xScale} fraction bits`);
  if (xScale + hi > 60) throw new Error(`inverse: 2^${hi} at ${xScale} fraction bits leaves no room for normalisation`);
  if (o.signed && kind !== 'reciprocal') throw new Error('inverse: only the reciprocal takes signed input');
  if (!(o.outBound > 0)) throw new Error(`inverse: outBound must be positive, got ${o.outBound}`);
  const b = Math.max(0, ceilLog2(o.outBound));
  const lanes = (hi - lo) * (o.signed ? 2 : 1);
  const laneBits = Math.max(0, hi + xScale - POLY_SCALE);
  const range = { lanes, laneBits, shifted: false, ...comparisonWindow(o) };
  if (o.mScale === undefined) {
    // phi(k) Q_k at phiScale + qScale bits, at most outBound: split the bits so the smallest phi (top octave)
    // and Q keep about the same relative precision.
    const total = 60 - b;
    const logPhiMin = Math.log2(o.constant ?? 1) - (kind === 'rsqrt' ? hi / 2 : hi);
    const qScale = Math.min(Q_SCALE, Math.floor((total + logPhiMin) / 2));
    const selectBits = total - o.outScale;
    if (qScale < 12 || selectBits < 1) throw new Error(`inverse: output bound 2^${b} and ${o.outScale} output fraction bits do not fit in the ring`);
    return { ...range, qScale, phiScale: total - qScale, selectBits, mBits: 0, finalBits: 0 };
  }
  // Unsigned reciprocal, constant 1: R = sum_k oh_k Q_k 2^(hi-1-k) is 1/x at Q_SCALE + hi fraction bits
  // (exact shifts), and m R at mScale + Q_SCALE + hi bits stays below 2^61 when it fits.
  if (kind === 'reciprocal' && !o.signed && (o.constant ?? 1) === 1 && o.mScale + Q_SCALE + hi + b <= 61) {
    return { ...range, shifted: true, qScale: Q_SCALE, phiScale: 0, selectBits: 0, mBits: 0, finalBits: o.mScale + Q_SCALE + hi - o.outScale };
  }
  // m phi below 2^60 before its truncation (|m phi| <= outBound since Q >= 1). The last product F Q is at
  // most outBound: F at fScale and Q at Q_SCALE share 61 - b bits.
  const phiScale = 60 - o.mScale - b;
  const fScale = 61 - b - Q_SCALE;
  const mBits = o.mScale + phiScale - fScale;
  const finalBits = fScale + Q_SCALE - o.outScale;
  if (phiScale < 1 || mBits < 1 || finalBits < 1) throw new Error(`inverse: output bound 2^${b} and ${o.outScale} output fraction bits do not fit in the ring`);
  return { ...range, qScale: Q_SCALE, phiScale, selectBits: 0, mBits, finalBits };
}

/**
 * For x >= 0 (not signed), the comparisons x < 2^j can run on a window of hi - lo + 10 bits after a local
 * downcast (protocol narrowCompare.ts) when that is fewer rounds than the 64-bit msb: the window covers
 * |x - 2^j| < 2^(hi+1) (x from slightly negative to 2^(hi+1)), and its zone of either answer, 2^(drop+1) raw,
 * is at most 2^-7 of every threshold above 2^lo. The thresholds are lowered by that zone, so every x of the
 * domain is classified exactly except those within 2^-7 (relative) below some 2^j, which may land in octave
 * j with c slightly below 0.5 (|v| <= 1 + 2^-6: Q's error grows by at most 1.41 times there).
 * belowHi (the norms, whose S is exact, >= 0 and below 2^hi by their domain): the same drop and zone on
 * hi - lo + 8 bits. The largest difference is then x - (2^lo - zone) < 2^(hi+xScale) - 2^(lo+xScale) + 2^(drop+1)
 * raw, which stays below narrowCompare.ts's 2^(drop+bits-1) - 2^(drop+2) = 2^(hi+xScale) - 2^(drop+2) because
 * 2^(lo+xScale) = 2^(drop+7) > 6 * 2^drop. The window asks for the dealer tables (protocol tableCompare.ts: 2 rounds
 * up to 32 bits, i.e. 22 octaves, 24 belowHi); wider windows fall back to the carry circuit (26 octaves in 7
 * rounds). x at or above 2^hi wraps: outside the domain, as it is anyway.
 */
export function comparisonWindow(o: Pick<InverseOptions, 'signed' | 'lo' | 'hi' | 'xScale'>, belowHi = false): { window?: CompareWindow; zone: bigint } {
  if (o.signed) return { zone: 0n };
  const bits = o.hi - o.lo + (belowHi ? 8 : 10);
  const drop = o.hi + o.xScale + (belowHi ? 1 : 3) - bits;
  if (drop < 0 || drop + bits > 64 || lessThanNarrowCost(1, { drop, bits, tables: true }).rounds >= msbCost(1).rounds) return { zone: 0n };
  return { window: { drop, bits, tables: true }, zone: 1n << BigInt(drop + 1) };
}

/** Declared cost for n elements of x and, with a multiplicand, mCount elements of m. */
export function inverseCost(n: number, o: InverseOptions, mCount = n): Cost {
  const pl = plan(o);
  if (pl.shifted) return seq(shiftedReciprocalCost(n, o), mulTruncCost(mCount));
  const nl = n * pl.lanes;
  const compare = pl.window ? lessThanNarrowCost(nl, pl.window) : msbCost(nl);
  const lanes = laneValuesCost(nl, pl.laneBits);
  const rangeBits = seq(compare, b2aCost(nl));
  if (o.mScale === undefined) return seq(par(rangeBits, lanes), mulTruncCost(n));
  return seq(par(rangeBits, lanes), par(dotLastRawCost(n), mulTruncCost(mCount)), mulTruncCost(mCount));
}

/** Cost of shiftedReciprocal for n elements of x. */
export function shiftedReciprocalCost(n: number, o: InverseOptions): Cost {
  const pl = plan(o);
  if (!pl.shifted) throw new Error('inverse: no shifted reciprocal for these options (unsigned reciprocal, constant 1, a fitting multiplicand)');
  const nl = n * pl.lanes;
  const compare = pl.window ? lessThanNarrowCost(nl, pl.window) : msbCost(nl);
  const arg = { truncatedArgument: pl.laneBits > 0, argumentBits: pl.laneBits };
  return seq(par(compare, polyLevelsCost(nl, 4, 1, arg)), polyFinishCost(nl, 4, 1, arg, true));
}

/**
 * The multiplicand path's R = 1/x at Q_SCALE + hi fraction bits without its last product, and the truncation
 * m R then takes (m at o.mScale): for a caller that computes m beside R (nn softmax.ts: e V beside 1/sum).
 */
export async function shiftedReciprocal(p: Party, x: AShare, o: InverseOptions): Promise<{ r: AShare; finalBits: number }> {
  const pl = plan(o);
  if (!pl.shifted) throw new Error('inverse: no shifted reciprocal for these options (unsigned reciprocal, constant 1, a fitting multiplicand)');
  const { lo, hi } = o;
  const n = numel(x);
  const K = hi - lo;
  const flat = reshape(x, [n]);
  const shifts = laneVector(Array.from({ length: K }, (_, j) => 1n << BigInt(hi - 1 - (lo + j))), n);
  const [octaves, run] = await p.parallel(
    (b) => octaveBits(b, flat, o, pl),
    (b) => polyEvalLevels(b, laneArgument(b, flat, o, pl.laneBits), [RECIPROCAL.coeffs], { bound: 1, outScale: pl.qScale, outputScale: shifts }),
  );
  return { r: reshape(await selectedRuns(p, [run], octaves, n, K, [[0, K]]), x.shape), finalBits: pl.finalBits };
}

/** Public integers round(phi(k) 2^scale) for k = lo..hi-1 (exact for powers of two). */
function weights(lo: number, hi: number, scale: number, phi: (k: number) => number): bigint[] {
  const out: bigint[] = [];
  for (let k = lo; k < hi; k++) {
    const exact = phi(k) * 2 ** scale;
    if (Math.abs(exact) < 2 ** 52 && Math.abs(Math.round(exact) - exact) > MAX_WEIGHT_ERROR * Math.abs(exact)) {
      throw new Error(`inverse: range [2^${lo}, 2^${hi}) too wide for ${scale}-bit weights (phi(${k}) = ${phi(k)})`);
    }
    if (Math.abs(exact) >= 2 ** 61) throw new Error(`inverse: weight phi(${k}) 2^${scale} = ${exact} leaves no headroom in the ring`);
    out.push(BigInt.asIntN(64, fixedBig(phi(k), scale)));
  }
  return out;
}

/** One ring word per lane, repeated over the n elements of that lane. */
export function laneVector(perLane: readonly bigint[], n: number): BigUint64Array {
  const vec = new BigUint64Array(perLane.length * n);
  perLane.forEach((w, j) => vec.fill(BigInt.asUintN(64, w), j * n, (j + 1) * n));
  return vec;
}

/**
 * The range bits l_j = [x < 2^j] (and [-x < 2^j] after them when signed) as one boolean plane [lanes * n],
 * block b for threshold lo + (b mod K), on the narrow window when the plan has one (thresholds lowered by its zone).
 */
export function octaveBits(p: Party, flat: AShare, o: Pick<InverseOptions, 'lo' | 'hi' | 'xScale' | 'signed'>, pl: { window?: CompareWindow; zone: bigint }): Promise<BShare> {
  const n = numel(flat);
  const K = o.hi - o.lo;
  const parts = Array.from({ length: K }, () => flat);
  if (o.signed) parts.push(...Array.from({ length: K }, () => neg(p, flat)));
  const thresholds = parts.map((_, b) => pl.zone - (1n << BigInt(o.lo + (b % K) + o.xScale)));
  const shifted = addPublicRaw(p, concatFlat(p, parts), laneVector(thresholds, n));
  return pl.window ? lessThanPublicNarrow(p, shifted, 0, pl.window) : msb(p, shifted);
}

/**
 * The one-hot of the octave (or piece) from range bits l_j = [x < t_j], thresholds increasing so the bits are
 * monotone in j: oh_k = l_{k+1} - l_k = l_{k+1} ^ l_k with l_K = 1, a local XOR of boolean shares (the public 1 on
 * component 0: party 0's first, party 2's second). bits [K * n] lane-major; the one-hot bits of each [start, count)
 * of lanes as 0/1 words (protocol maskedChainFinish's selection). Below every threshold all bits are 1 and every
 * oh_k is 0.
 */
function oneHotWords(p: Party, bits: BShare, n: number, K: number, ranges: ReadonlyArray<readonly [number, number]>): BitWords[] {
  const be = p.backend;
  const l = bitWords(p, bits);
  const oneHot = (w: Buf, withOne: boolean): Buf => {
    const top = withOne ? be.addScalar(be.zeros(n), 1n) : be.zeros(n);
    return be.xor(w, be.concat([be.slice(w, n, (K - 1) * n), top]));
  };
  const [w0, w1] = [oneHot(l.s0, p.id === 0), oneHot(l.s1, p.id === 2)];
  return ranges.map(([start, count]) => ({ n: count * n, s0: be.slice(w0, start * n, count * n), s1: be.slice(w1, start * n, count * n) }));
}

/**
 * sum_k oh_k L_k per element (a [n] share): run i holds lanes ranges[i] = [start, count) lane-major, each lane
 * times its one-hot bit (oneHotWords) in the chain's own last round (one round from each chain's dealer, protocol
 * maskedChainFinish), reshared, then summed over the K lanes (local). Lanes outside the element's octave or piece
 * (garbage) are multiplied by exact zeros. Used by the reciprocal's and the norms' lanes and exp's pieces.
 */
export async function selectedRuns(p: Party, runs: readonly ChainRun[], bits: BShare, n: number, K: number, ranges: ReadonlyArray<readonly [number, number]>): Promise<AShare> {
  const ohs = oneHotWords(p, bits, n, K, ranges);
  const parts = await p.parallel(...runs.map((run, i) => async (c: Party) => (await maskedChainFinish(c, run, ohs[i]))[0]));
  return sumLast(p, transpose(p, reshape(concatFlat(p, parts), [K, n]), [1, 0]));
}

/**
 * sum_k oh_k Phi(k) from the range bits: Phi(hi-1) - l_lo Phi(lo) + sum_{j>lo} l_j (Phi(j-1) - Phi(j)).
 * `bits` is [blocks, n] (block b holds the indicator of threshold lo + b, then the negated ones when signed).
 */
function combine(p: Party, bits: AShare, n: number, lo: number, hi: number, signed: boolean, W: bigint[], shape: readonly number[]): AShare {
  const K = hi - lo;
  const blockWeight = (j: number): bigint => (j === 0 ? -W[0] : W[j - 1] - W[j]);
  const perBlock = Array.from({ length: K }, (_, j) => blockWeight(j));
  if (signed) perBlock.push(...perBlock.map((w) => -w));
  const blocks = perBlock.length;
  const weighted = transpose(p, reshape(mulPublicRawVec(p, bits, laneVector(perBlock, n)), [blocks, n]), [1, 0]);
  const sum = reshape(sumLast(p, weighted), shape);
  // The constants Phi(hi-1) of the positive and the negated negative one-hot cancel when signed.
  return signed ? sum : addPublicRaw(p, sum, BigInt.asUintN(64, W[K - 1]));
}

/**
 * The selection's operands: per lane group (positive, then negative when signed) of K lanes [K, n], the
 * differences D (block 0: -V_lo; block j: V_{j-1} - V_j) laid out [n, blocks], and the constant sum of the
 * groups' top lanes [n]. sum_blocks bits D + constant = sum over groups of sum_k oh_k V_k.
 */
function selectionOperands(p: Party, v: AShare, n: number, K: number, groups: number): { diffs: AShare; constant: AShare } {
  const diffs: AShare[] = [];
  let constant: AShare | undefined;
  for (let g = 0; g < groups; g++) {
    const lanes = sliceFlat(p, v, g * K * n, [K * n]);
    const prev = concatFlat(p, [zerosLike(p, [n]), sliceFlat(p, lanes, 0, [(K - 1) * n])]);
    diffs.push(sub(p, prev, lanes));
    const top = sliceFlat(p, lanes, (K - 1) * n, [n]);
    constant = constant ? add(p, constant, top) : top;
  }
  return { diffs: transpose(p, reshape(concatFlat(p, diffs), [groups * K, n]), [1, 0]), constant: constant as AShare };
}

/**
 * The polynomial's argument v_k = 4 c_k - 3 for every lane, c_k = |x| 2^-(k+1) at POLY_SCALE: x shifted per lane and
 * truncated by laneBits as the polynomial chain's level 0 (poly.ts), or exact when no truncation is needed.
 */
function laneArgument(p: Party, flat: AShare, o: Pick<InverseOptions, 'lo' | 'hi' | 'signed' | 'xScale'>, laneBits: number): PolyArgument {
  const { lo, hi, signed, xScale } = o;
  const n = numel(flat);
  const shifts = Array.from({ length: hi - lo }, (_, j) => 1n << BigInt(hi - 1 - (lo + j)));
  const groups = signed ? [flat, neg(p, flat)] : [flat];
  const x = concatFlat(p, groups.flatMap((g) => shifts.map(() => g)));
  const coef = laneVector(groups.flatMap(() => shifts), n);
  const offset = BigInt.asUintN(64, -(3n << BigInt(POLY_SCALE)));
  if (laneBits > 0) return { x, coef, bits: laneBits, mult: 4n, offset };
  const c = mulPublicInt(p, mulPublicRawVec(p, x, coef), 1n << BigInt(Math.max(0, POLY_SCALE - (hi + xScale))));
  return { v: addPublicRaw(p, mulPublicInt(p, c, 4), offset) };
}

/** Cost of laneValues for nl lane values. */
const laneValuesCost = (nl: number, laneBits: number): Cost => polyCost(nl, 4, 1, 64, { truncatedArgument: laneBits > 0, argumentBits: laneBits });

/** Q_k at qScale for every lane: the degree-4 fit at v_k (one chain with v_k's truncation): [lanes * n]. */
async function laneValues(p: Party, flat: AShare, o: Pick<InverseOptions, 'kind' | 'lo' | 'hi' | 'signed' | 'xScale'>, pl: { laneBits: number; qScale: number }): Promise<AShare> {
  const [q] = await polyEval(p, laneArgument(p, flat, o, pl.laneBits), [o.kind === 'rsqrt' ? RSQRT.coeffs : RECIPROCAL.coeffs], { bound: 1, outScale: pl.qScale });
  return q;
}

export async function inverse(p: Party, x: AShare, o: InverseOptions, mult?: Multiplicand): Promise<AShare> {
  const pl = plan(o);
  const { lo, hi, signed } = o;
  const n = numel(x);
  if ((mult === undefined) !== (o.mScale === undefined)) throw new Error('inverse: pass a multiplicand exactly when mScale is set');
  if (mult) {
    const want = mult.broadcast ? x.shape.length + 1 : x.shape.length;
    const ok = mult.m.shape.length === want && x.shape.every((d, i) => d === mult.m.shape[i]);
    if (!ok) throw new Error(`inverse: multiplicand of shape [${mult.m.shape.join(', ')}] does not match [${x.shape.join(', ')}]${mult.broadcast ? ' plus a last axis' : ''}`);
  }
  const K = hi - lo;
  const flat = reshape(x, [n]);
  if (pl.shifted && mult) {
    const { r } = await shiftedReciprocal(p, x, o);
    return mulTrunc(p, mult.m, mult.broadcast ? broadcastLast(p, r, mult.m.shape[mult.m.shape.length - 1]) : r, pl.finalBits);
  }
  const C = o.constant ?? 1;
  const half = o.kind === 'rsqrt';
  const phi = (k: number) => C * 2 ** (half ? -(k + 1) / 2 : -(k + 1));
  const phiW = weights(lo, hi, pl.phiScale, phi);
  const groups = signed ? 2 : 1;
  // Steps 1 and 2 side by side.
  const [bits, q] = await p.parallel(
    async (b) => b2a(b, await octaveBits(b, flat, o, pl)),
    (b) => laneValues(b, flat, o, pl),
  );
  if (!mult) {
    // The lanes scaled by phi(k) (the negative lanes by -phi(k)): the selection is the result.
    const scaled = mulPublicRawVec(p, q, laneVector(signed ? [...phiW, ...phiW.map((w) => -w)] : phiW, n));
    const { diffs, constant } = selectionOperands(p, scaled, n, K, groups);
    return reshape(await dotLastTrunc(p, transpose(p, reshape(bits, [pl.lanes, n]), [1, 0]), diffs, pl.selectBits, constant), x.shape);
  }
  const phiShare = combine(p, bits, n, lo, hi, signed, phiW, x.shape);
  const cols = mult.m.shape[mult.m.shape.length - 1];
  const [other, f] = await p.parallel(
    async (b) => {
      const { diffs, constant } = selectionOperands(b, q, n, K, groups);
      const qn = reshape(await dotLastRaw(b, transpose(b, reshape(bits, [pl.lanes, n]), [1, 0]), diffs, constant), x.shape);
      return mult.broadcast ? broadcastLast(b, qn, cols) : qn;
    },
    (b) => mulTrunc(b, mult.m, mult.broadcast ? broadcastLast(b, phiShare, cols) : phiShare, pl.mBits),
  );
  return mulTrunc(p, f, other, pl.finalBits);
}
