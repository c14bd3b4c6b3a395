/**
 * The part LayerNorm and RMSNorm share: for d (centred for LayerNorm, raw x for RMSNorm)
 *   y = d gamma / sqrt(S/n + eps) = m R,   S = sum_j d_j^2,   m = d gamma,   R = sqrt(n) / sqrt(S + n eps)
 * S is the exact sum of squares at 2 f fraction bits (one reshare per row, 1 round, no truncation); m is formed
 * beside it and R (norm-scale.ts, 10 rounds) at mScale and rScale fraction bits chosen so m R stays below 2^61
 * for |y| <= outBound; then one product, truncated: 1 + 10 + 2 = 13 rounds after d. Small shapes (at most
 * laneProducts = rows * n * lanes, default TIMES_LIMIT) take norm-scale.ts's normScaleTimes instead, which
 * multiplies m into every lane while the comparisons run: 1 + 10 = 11 rounds after d, for a product and a bit
 * times value per element and lane (about 37 bytes per party) instead of one product. Why 2^12: two rounds
 * are worth those bytes only while they take less time to send than the rounds to wait, about 55 KB per round
 * between browser tabs (3.9 ms, 14 MB/s per link), 375 KB on a 100 Mbps WAN at 30 ms, 625 KB on a 5 Gbps LAN at
 * 1 ms; 2^12 products are about 150 KB (one generated token of stories260K: 64 x 37 = 2,368). One token of
 * GPT-2-base (768 x 34 = 26,112, about 1 MB per norm) or stories260K's 16-token prompt (37,888) would lose
 * between tabs. On a narrow window (below) R comes with its lanes, 2 rounds sooner, and normScaleTimes gains
 * nothing: R and then the product there.
 * eps: n eps is added to S at 2 f fraction bits (eps = 1e-12 at n = 64 still carries a few bits); a row of
 * constants gives exactly 0 (its d is 0), never a division by zero. S below 2^-2f is impossible unless S = 0.
 * Limits: S must stay below 2^62 at 2 f fraction bits, i.e. n var < 2^(62 - 2f) = 2^26 at 18 fraction bits
 * (maxVar, default that limit); |result| <= outBound (default 2^12).
 * Domain of S: [2^lo, 2^hi) with lo = floor(log2(n (minVar + eps))) and hi = ceil(log2(n (maxVar + eps))). A
 * narrow published range of the rows' variance (models norm-windows.ts: the owner's calibration with a margin)
 * takes fewer lanes and, up to 24 octaves of S, a comparison by tables hidden under the lanes' masked chain
 * instead of the msb's 8 rounds: 7 rounds after d instead of 13 (rmsnorm.test.ts). A row whose variance lies below minVar gives R = 0 (y = beta); above
 * maxVar the result is arbitrary: both outside the domain.
 * d may carry fewer fraction bits than the session (dBits; layernorm-residual.ts passes a scaled d at f - e):
 * S is then at 2 dBits, m = d gamma is truncated from dBits + f bits, and the result is at f.
 * Without gamma (NormOptions.noScale: the model owner folded gamma, and beta, into the matmul the norm feeds,
 * W' = diag(gamma) W and b' = b + beta W, models norm-folding.ts), m is d itself at its own dBits fraction bits
 * (truncated where mScale < dBits): no product, so per element about 21.3 bytes fewer per party (the product's
 * truncation), same rounds (m was formed beside R). y = d R then; error as with gamma = 1.
 */
import type { Buf } from '@puma/backend';
import {
  add, addPublicRaw, broadcastLast, reshape, seq, tileLeading, truncate, truncateCloseSquares, truncateCost, truncateOpenSquares, truncateProduct,
  truncateSquaresCloseCost, truncateSquaresOpenCost, type AShare, type Cost, type Party, type SquaresOpening,
} from '@puma/protocol';
import { dotLastRaw, dotLastRawCost, mulTrunc, mulTruncCost } from './fused.ts';
import { fixedBig, par, ZERO_COST } from './fixed.ts';
import {
  normScaleCost, normScaleOfSquares, normScaleOfSquaresCost, normScaleOfSquaresTerm, normScalePlan, normScaleTimes, normScaleTimesCost, type NormScalePlan,
} from './norm-scale.ts';

/** Default largest rows * n * lanes for which m is multiplied into every lane (2 rounds fewer; see the header). */
export const TIMES_LIMIT = 2 ** 12;

export interface NormOptions {
  /** Largest row variance (mean square for RMSNorm) the input may have; default the most the ring allows. */
  maxVar?: number;
  /** Smallest row variance (mean square for RMSNorm) the input may have; default 0 (S from n eps). */
  minVar?: number;
  /** Bound on |output - beta| (default 2^12). */
  outBound?: number;
  /** Largest rows * n * lanes for which m is multiplied into every lane of R (default TIMES_LIMIT). */
  laneProducts?: number;
  /** The norm has no gamma (folded into the matmul it feeds): m = d (see the header). */
  noScale?: boolean;
  /** Fraction bits of the row scale R, where the caller fixes them (norm-matmul.ts normTermPlan; default norm-scale.ts's). */
  rScale?: number;
}

export interface NormPlan {
  fracBits: number;
  /** Fraction bits of d (S is at twice that). */
  dBits: number;
  epsRaw: bigint;
  scale: NormScalePlan;
  laneProducts: number;
  /** Whether the norm multiplies by a gamma (false: NormOptions.noScale). */
  scaled: boolean;
}

export function normPlan(n: number, eps: number, fracBits: number, o: NormOptions, dBits = fracBits): NormPlan {
  if (!Number.isInteger(n) || n < 1) throw new Error(`norm: rows need at least one column, got ${n}`);
  if (!(eps > 0) || !Number.isFinite(eps)) throw new Error(`norm: eps must be a positive finite number, got ${eps}`);
  if (!Number.isInteger(dBits) || dBits < 1 || dBits > fracBits) throw new Error(`norm: d's fraction bits ${dBits} must be an integer in [1, ${fracBits}]`);
  const xScale = 2 * dBits;
  const limit = 2 ** (62 - xScale);
  const maxVar = o.maxVar ?? limit / n - eps;
  if (!(maxVar > 0) || n * (maxVar + eps) > limit) throw new Error(`norm: n * (maxVar + eps) = ${n * (maxVar + eps)} exceeds the 2^${62 - xScale} the sum of squares may reach`);
  const minVar = o.minVar ?? 0;
  if (!(minVar >= 0) || !(minVar < maxVar)) throw new Error(`norm: minVar ${minVar} must be >= 0 and below maxVar ${maxVar}`);
  const hi = Math.ceil(Math.log2(n * (maxVar + eps)));
  const lo = Math.max(-xScale, Math.min(hi - 1, Math.floor(Math.log2(n * (minVar + eps)))));
  const scale = normScalePlan({ lo, hi, xScale, constant: Math.sqrt(n), outBound: o.outBound ?? 2 ** 12, rScale: o.rScale });
  if (scale.mScale > dBits + fracBits - 1) throw new Error(`norm: d gamma at ${scale.mScale} fraction bits exceeds the product's ${dBits + fracBits}`);
  const laneProducts = o.laneProducts ?? TIMES_LIMIT;
  if (!(laneProducts >= 0)) throw new Error(`norm: laneProducts must be a number >= 0, got ${laneProducts}`);
  return { fracBits, dBits, epsRaw: fixedBig(n * eps, xScale), scale, laneProducts, scaled: o.noScale !== true };
}

/**
 * Fraction bits of formM's m when `bits` are asked for: those, or without gamma at most d's own (d is then used
 * as it is: fewer bits than allowed, none lost).
 */
export const mBitsFor = (plan: NormPlan, bits: number): number => (plan.scaled ? bits : Math.min(bits, plan.dBits));

/**
 * m = d gamma at `bits` fraction bits (d at plan.dBits, gamma at f; one product and its truncation), or without
 * gamma d itself at mBitsFor(plan, bits): as it is, or truncated where bits < dBits.
 */
export async function formM(p: Party, d: AShare, gamma: AShare | null, plan: NormPlan, bits: number): Promise<AShare> {
  checkScale(gamma, plan.scaled);
  if (gamma) return mulTrunc(p, d, tileRows(p, gamma, d), plan.dBits + plan.fracBits - bits);
  return bits >= plan.dBits ? d : truncate(p, d, plan.dBits - bits);
}

/** formM's cost for rows x n elements. */
export function formMCost(rows: number, n: number, plan: NormPlan, bits: number): Cost {
  if (plan.scaled) return mulTruncCost(rows * n);
  return bits >= plan.dBits ? ZERO_COST : truncateCost(rows * n, plan.dBits - bits);
}

/** A norm planned with gamma (scaled) takes one, and one planned without it (noScale) takes none. */
function checkScale(gamma: AShare | null, scaled: boolean): void {
  if ((gamma !== null) !== scaled) throw new Error(scaled ? 'norm: gamma is missing' : 'norm: a norm planned without gamma (noScale) was given one');
}

/** The row width n of x, after checking that a per-column parameter (gamma, beta; null: none) has shape [n]. */
export function checkRowParam(x: { shape: readonly number[] }, v: AShare | null, name: string): number {
  const n = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || !n) throw new Error(`norm: input needs a non-empty last axis, got [${x.shape.join(', ')}]`);
  if (v && (v.shape.length !== 1 || v.shape[0] !== n)) throw new Error(`norm: ${name} must have shape [${n}], got [${v.shape.join(', ')}]`);
  return n;
}

/** Options for a norm given gamma (null: none, so noScale); options that say otherwise are refused. */
export function withScale(o: NormOptions, gamma: AShare | null): NormOptions {
  if (o.noScale !== undefined) checkScale(gamma, !o.noScale);
  return { ...o, noScale: gamma === null };
}

/** y + beta on every row of y (beta null: y as it is). */
export function plusBeta(p: Party, y: AShare, beta: AShare | null): AShare {
  return beta ? add(p, y, tileRows(p, beta, y)) : y;
}

/** gamma [n] repeated over every row of x. */
export function tileRows(p: Party, v: AShare, x: AShare): AShare {
  return reshape(tileLeading(p, v, x.s0.length / v.s0.length), x.shape);
}

/**
 * m times every lane only where that is sooner: on a narrow window R is ready with the lanes (5 rounds), and
 * m R after it takes no longer than normScaleTimes, for far fewer bytes.
 */
function multipliesLanes(rows: number, n: number, plan: NormPlan): boolean {
  if (rows * n * plan.scale.lanes > plan.laneProducts) return false;
  return normScaleTimesCost(rows, n, plan.scale, mulTruncCost(rows * n)).rounds < seq(normScaleCost(rows, plan.scale), mulTruncCost(rows * n)).rounds;
}

/** Cost of the sum of squares and R beside m = d gamma, then m R (or m times the lanes, for small shapes). */
export function normTailCost(rows: number, n: number, plan: NormPlan): Cost {
  const m = formMCost(rows, n, plan, plan.scale.mScale);
  if (multipliesLanes(rows, n, plan)) return seq(dotLastRawCost(rows), normScaleTimesCost(rows, n, plan.scale, m));
  return seq(par(normScaleOfSquaresCost(rows, plan.scale), m), mulTruncCost(rows * n));
}

/** d gamma / sqrt(mean(d^2) + eps) for d [..., n], gamma [n] (null: none, plan.scaled false). */
export async function normTail(p: Party, d: AShare, gamma: AShare | null, plan: NormPlan): Promise<AShare> {
  checkScale(gamma, plan.scaled);
  const n = d.shape[d.shape.length - 1];
  const rows = d.s0.length / n;
  const { mScale } = plan.scale;
  if (multipliesLanes(rows, n, plan)) {
    const s = addPublicRaw(p, await dotLastRaw(p, d, d), plan.epsRaw);
    const y = await normScaleTimes(p, reshape(s, [rows]), async (b) => reshape(await formM(b, d, gamma, plan, mScale), [rows, n]), plan.scale, rowScaleBits(plan));
    return reshape(y, d.shape);
  }
  const [r, m] = await p.parallel(
    (b) => normScaleOfSquares(b, d, plan.epsRaw, plan.scale),
    (b) => formM(b, d, gamma, plan, mScale),
  );
  return rowScaled(p, m, r, plan);
}

/** The bits m R drops to land at the session's f (m at mScale, R at rScale). */
const rowScaleBits = (plan: NormPlan): number => mBitsFor(plan, plan.scale.mScale) + plan.scale.rScale - plan.fracBits;

/** m R, each row of m times its R, truncated to f (2 rounds). */
function rowScaled(p: Party, m: AShare, r: AShare, plan: NormPlan): Promise<AShare> {
  return mulTrunc(p, m, broadcastLast(p, r, m.shape[m.shape.length - 1]), rowScaleBits(plan));
}

/**
 * A norm's input: d itself, or a residual sum as this party's masked 3-of-3 term (SumTerm), which the norm
 * truncates to d with protocol truncateSquares: R starts from the rows' squares after its first round, beside the
 * second that replicates d (1 round sooner than the truncation and then S's resharing). d comes back with the
 * result (RMSNorm's residual stream goes on from it).
 */
export type NormInput = AShare | SumTerm;

export interface SumTerm {
  term: Buf;
  shape: readonly number[];
  /**
   * Fraction bits of the term, which the norm truncates to its d's (plan.dBits): 2f for base 2^f plus a product
   * (RMSNorm's x at f), softmax.ts attendInto's f + its reciprocal's bits, or a LayerNorm's centred sum
   * (layernorm-residual.ts: odd (x - mean) at 2f + k).
   */
  fracBits: number;
}

export const isSumTerm = (x: NormInput): x is SumTerm => 'term' in x;

/** Refuses, naming `what`, a sum whose term does not hold its shape's elements. */
export function checkSumTerm(x: SumTerm, what: string): void {
  if (x.term.length !== x.shape.reduce((a, b) => a * b, 1)) throw new Error(`${what}: a sum's term has ${x.term.length} elements, its shape [${x.shape.join(', ')}] says otherwise`);
}

/**
 * A NormInput's value: as it is, or a sum's term truncated to f plainly (2 rounds: callers with no norm, which
 * have no use for its squares). The term stays the caller's.
 */
export function resolvedNormInput(p: Party, x: NormInput): Promise<AShare> {
  return isSumTerm(x) ? truncateProduct(p, x.term, x.shape, x.fracBits - p.fracBits) : Promise.resolve(x);
}

/** The first round of a sum's truncation to the plan's d, with its rows' squares (at 2 dBits). */
export function openSumSquares(p: Party, x: SumTerm, plan: NormPlan): Promise<SquaresOpening> {
  checkSumTerm(x, 'norm');
  const bits = x.fracBits - plan.dBits;
  if (!Number.isInteger(bits) || bits < 1) throw new Error(`norm: a sum's term at ${x.fracBits} fraction bits cannot be truncated to d's ${plan.dBits}`);
  return truncateOpenSquares(p, x.term, x.shape, bits);
}

/** Cost of normTailOfSum for rows x n. */
export function normTailOfSumCost(rows: number, n: number, plan: NormPlan): Cost {
  const m = seq(truncateSquaresCloseCost(rows * n), formMCost(rows, n, plan, plan.scale.mScale));
  return seq(truncateSquaresOpenCost(rows * n), par(normScaleOfSquaresCost(rows, plan.scale), m), mulTruncCost(rows * n));
}

/**
 * normTail on a sum's term: the truncation's first round gives the rows' squares, R starts from them while the
 * second round replicates d and m = d gamma is formed, then m R: 1 + 11 + 2 = 14 rounds from the term (S's
 * resharing and R take the 11; on a narrow window 1 + 5 + 2), against the truncation's 2 and normTail's 13 (or
 * 11). d is returned too.
 */
export async function normTailOfSum(p: Party, x: SumTerm, gamma: AShare | null, plan: NormPlan): Promise<{ y: AShare; d: AShare }> {
  checkScale(gamma, plan.scaled);
  const opened = await openSumSquares(p, x, plan);
  const [r, dm] = await p.parallel(
    (b) => normScaleOfSquaresTerm(b, opened.squares, plan.epsRaw, plan.scale),
    async (b) => {
      const d = await truncateCloseSquares(b, opened);
      return { d, m: await formM(b, d, gamma, plan, plan.scale.mScale) };
    },
  );
  const y = await rowScaled(p, dm.m, r, plan);
  if (dm.m !== dm.d) p.drop(dm.m.s0, dm.m.s1);
  return { y, d: dm.d };
}
