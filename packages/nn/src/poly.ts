/**
 * Polynomial evaluation on a normalized secret variable v (|v| <= 2 where the result matters), for one or
 * several polynomials of the same v at once (they share the powers).
 *
 * Schedule for maximum degree D, with m = ceil(D / 2) <= 4:
 *   level 1: v^2;  level 2: v^3 = v v^2 (and v^4 = v^2 v^2 when m = 4);
 *   last level, one fused product per polynomial, truncated once:
 *     P(v) = [a_0 + a_1 v + ... + a_m v^m]  +  v^m * [a_{m+1} v + ... + a_D v^(D-m)]
 *   The bracketed sums are public-integer combinations of shares (free): the first is added at the product's
 *   scale, the second carries the coefficients. So degree 2 costs 1 level, degrees 3-4 cost 2, 5-8 cost 3
 *   (2 rounds per level): one level fewer than computing every power and then truncating the sum.
 * Scales: powers live at POLY_SCALE = 21 fraction bits (v = x/8 of an 18-bit x is then exact); the last
 * product sits at pi = 60 - ceil(log2 M) bits, M bounding |P| over |v| <= bound, so it cannot reach 2^62;
 * the coefficients of the second bracket carry pi - 42 bits (14 to 17 for this package's fits).
 * Error: the powers are within a few ulp of 2^-21; the coefficients of the second bracket are rounded to
 * 2^-(pi-41); the output to 1 ulp of `outScale`. In all, about 2^-(pi-41) sum_k |v|^k, i.e. 1e-5 to 3e-5
 * for polynomials whose sum |a_k| bound^k is 2 to 8 (GeLU: measured 1.2e-5 above its float64 fit). Values of
 * v beyond the bound give garbage (callers mask them).
 * Cost (polyCost): 2 rounds per level; per value of v, mulTrunc outputs of [32, 16, 16] bytes: 1 for
 * degree 2, 2 for degrees 3-4, 3 for 5-6, 4 for 7-8, plus 1 per additional polynomial. With outBits 32 the
 * last truncation shares its results in Z_2^32 (truncateRing 64 -> 32: 16 bytes per output instead of 21.3).
 */
import { concatFlat, splitFlat, type AShare, type Cost, type Party, type RingChange, seq, add } from '@puma/protocol';
import { mulTrunc, mulTruncCost, mulTruncRingCost, productSumTrunc, productSumTruncRing } from './fused.ts';
import { ceilLog2, fixedBig, linComb } from './fixed.ts';

export const POLY_SCALE = 21;
const MAX_DEGREE = 8;

export interface PolyAddend {
  /** Added to every polynomial: factor * x, with x at `scale` fraction bits and |factor x| <= bound. */
  x: AShare;
  scale: number;
  factor: number;
  bound: number;
}

export interface PolyOptions {
  /** |v| <= bound over the inputs whose result matters; at most 2. */
  bound: number;
  /** Per polynomial, a tighter bound of |v| over the interval where that polynomial is used. */
  bounds?: readonly number[];
  /** Fraction bits of the results. */
  outScale: number;
  addend?: PolyAddend;
  /** Ring of the results: 64 (default) or 32 (values below 2^31 at outScale, meaningful mod 2^32). */
  outBits?: RingChange['outBits'];
}

function splitDegree(maxDegree: number): number {
  if (!Number.isInteger(maxDegree) || maxDegree < 2 || maxDegree > MAX_DEGREE) throw new Error(`polynomial degree ${maxDegree} is outside [2, ${MAX_DEGREE}]`);
  return Math.ceil(maxDegree / 2);
}

/** Declared cost for n values of v, `count` polynomials of maximum degree `maxDegree`. */
export function polyCost(n: number, maxDegree: number, count = 1, outBits: RingChange['outBits'] = 64): Cost {
  const m = splitDegree(maxDegree);
  const levels: Cost[] = [];
  if (m >= 2) levels.push(mulTruncCost(n));
  if (m >= 3) levels.push(mulTruncCost(n * (m === 4 ? 2 : 1)));
  levels.push(outBits === 64 ? mulTruncCost(n * count) : mulTruncRingCost(n * count, { inBits: 64, outBits }));
  return seq(...levels);
}

/** Evaluates each coefficient list (lowest degree first) at v, which must carry POLY_SCALE fraction bits. */
export function polyEval(p: Party, v: AShare, polys: ReadonlyArray<readonly number[]>, o: PolyOptions): Promise<AShare[]> {
  if (polys.length === 0) throw new Error('polyEval: no polynomials');
  if (!(o.bound > 0 && o.bound <= 2)) throw new Error(`polyEval: bound ${o.bound} must be in (0, 2]`);
  const D = Math.max(...polys.map((c) => c.length - 1));
  const m = splitDegree(D);
  const W = POLY_SCALE;
  if (o.bounds && (o.bounds.length !== polys.length || o.bounds.some((b) => !(b > 0 && b <= o.bound)))) throw new Error('polyEval: one bound in (0, bound] per polynomial');
  let M = Math.max(...polys.map((c, j) => c.reduce((s, a, k) => s + Math.abs(a) * (o.bounds?.[j] ?? o.bound) ** k, 0)));
  if (o.addend) M += Math.abs(o.addend.factor) * o.addend.bound;
  const pi = Math.min(60, 60 - ceilLog2(M));
  const G = pi - 2 * W;
  if (G < 12) throw new Error(`polyEval: coefficients too large (sum |a_k| bound^k = ${M}) for fixed-point evaluation`);
  if (pi - o.outScale < 1) throw new Error(`polyEval: output scale ${o.outScale} exceeds the product scale ${pi}`);
  let addRaw: AShare | undefined;
  if (o.addend) {
    const k = o.addend.factor * 2 ** (pi - o.addend.scale);
    if (!Number.isInteger(k)) throw new Error(`polyEval: addend factor ${o.addend.factor} is not exact at scale ${pi}`);
    addRaw = linComb(p, [[o.addend.x, BigInt.asUintN(64, BigInt(k))]]);
  }
  return p.profile('poly', async () => {
    const pw: AShare[] = [v, v];
    if (m >= 2) pw[2] = await mulTrunc(p, v, v, W);
    if (m === 3) pw[3] = await mulTrunc(p, v, pw[2], W);
    if (m === 4) [pw[3], pw[4]] = splitFlat(p, await mulTrunc(p, concatFlat(p, [v, pw[2]]), concatFlat(p, [pw[2], pw[2]]), W), [v.shape, v.shape]);
    const lows: AShare[] = [];
    const highs: AShare[] = [];
    for (const c of polys) {
      const lowTerms: Array<[AShare, bigint]> = [];
      for (let k = 1; k <= Math.min(m, c.length - 1); k++) lowTerms.push([pw[k], fixedBig(c[k], pi - W)]);
      let low = linComb(p, lowTerms.length ? lowTerms : [[v, 0n]], fixedBig(c[0], pi));
      if (addRaw) low = add(p, low, addRaw);
      lows.push(low);
      const highTerms: Array<[AShare, bigint]> = [];
      for (let k = m + 1; k < c.length; k++) highTerms.push([pw[k - m], fixedBig(c[k], G)]);
      highs.push(linComb(p, highTerms.length ? highTerms : [[v, 0n]]));
    }
    const shapes = polys.map(() => v.shape);
    const top = concatFlat(p, polys.map(() => pw[m]));
    const terms: Array<[AShare, AShare]> = [[top, concatFlat(p, highs)]];
    const out = (o.outBits ?? 64) === 64
      ? await productSumTrunc(p, terms, pi - o.outScale, concatFlat(p, lows))
      : await productSumTruncRing(p, terms, pi - o.outScale, { inBits: 64, outBits: 32 }, concatFlat(p, lows));
    return splitFlat(p, out, shapes);
  });
}
