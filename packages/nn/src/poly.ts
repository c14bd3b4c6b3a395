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
 * Cost (polyCost): with outBits 64 and degree 3 or more, the levels run as one masked chain (protocol
 * maskedChain.ts): one round per level plus one back to replicated shares, so 3 rounds for degrees 3-4 and 4 for
 * 5-8 (4 and 6 as separate products); the chain's opening of v itself (level 0) needs no extra round. An argument
 * v that is itself a truncation of a replicated x (inverse.ts's lanes: v = 4 (x c / 2^bits) - 3) joins the chain
 * as its level 0: 4 rounds for degree 4 where the truncation and the polynomial took 6. So does a squared
 * argument v = x (K x) / 2^bits + offset (even.ts's band variables): level 0 is the product and its truncation, 5
 * rounds for degrees 5-8 where v as a product (2) and the chain (4) took 6. Bytes per value of v:
 * per opened level 8 to 12 words in all over the three parties (mulTrunc's 8, plus the dealer's shares of the
 * products of mask components the forms name: maskedChainCost). Degree 2 and outBits 32 keep the products:
 * 2 rounds per level; per value of v, mulTrunc outputs of [32, 16, 16] bytes, the last truncation sharing its
 * results in Z_2^32 with outBits 32 (truncateRing 64 -> 32: 16 bytes per output instead of 21.3).
 */
import {
  add, concatFlat, maskedChainCost, maskedChainFinish, maskedChainFinishCost, maskedChainLevels, maskedChainLevelsCost, seq, splitFlat,
  type AShare, type ChainCoef, type ChainForm, type ChainGate, type ChainProgram, type ChainRun, type Cost, type Party, type RingChange,
} from '@puma/protocol';
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

/**
 * v as the chain's level 0 makes it: a replicated share taken exactly, or v = mult (x coef / 2^bits) + offset for
 * a replicated x and public ring words coef (one, or one per element), mult and offset (v at POLY_SCALE), or
 * with `squared`, v = mult (x (coef x) / 2^bits) + offset (the even activations' x^2 band variable, even.ts):
 * the product of x with itself is level 0's gate, so v costs no round of its own.
 */
export type PolyArgument = { v: AShare } | { x: AShare; coef: bigint | BigUint64Array; bits: number; mult: bigint; offset: bigint; squared?: boolean };

/** Which argument a declared cost is for: exact v (default), a truncation of x coef, or of x (coef x). */
export interface ArgumentKind {
  truncatedArgument?: boolean;
  squaredArgument?: boolean;
  /**
   * The argument's truncation bits (default 1): the cost counts the dealer's product of the two mask parts the
   * square of v names when they reach past 2^62 (bits above 31), maskedChain.ts.
   */
  argumentBits?: number;
}

/** Does this evaluation run as a masked chain (degree 3 or more, results in Z_2^64)? */
const chained = (maxDegree: number, outBits: RingChange['outBits'] = 64): boolean => splitDegree(maxDegree) >= 2 && outBits === 64;

/** Declared cost for n values of v, `count` polynomials of maximum degree `maxDegree`. */
export function polyCost(n: number, maxDegree: number, count = 1, outBits: RingChange['outBits'] = 64, o: ArgumentKind = {}): Cost {
  if (chained(maxDegree, outBits)) return maskedChainCost(n, costProgram(maxDegree, count, o));
  if (o.truncatedArgument || o.squaredArgument) throw new Error('polyCost: a truncated or squared argument needs degree 3 or more and results in Z_2^64');
  const m = splitDegree(maxDegree);
  const levels: Cost[] = [];
  if (m >= 2) levels.push(mulTruncCost(n));
  if (m >= 3) levels.push(mulTruncCost(n * (m === 4 ? 2 : 1)));
  levels.push(outBits === 64 ? mulTruncCost(n * count) : mulTruncRingCost(n * count, { inBits: 64, outBits }));
  return seq(...levels);
}

/** What the chain's structure needs of the argument: exact, or the truncation that makes it (no shares). */
type ArgumentShape = { exact: true } | { exact: false; squared: boolean; coef: bigint | BigUint64Array; bits: number; mult: bigint; offset: bigint };

const shapeOf = (arg: PolyArgument): ArgumentShape =>
  'v' in arg ? { exact: true } : { exact: false, squared: arg.squared === true, coef: arg.coef, bits: arg.bits, mult: arg.mult, offset: arg.offset };

/**
 * The chain for polys at v (see the header): level 0 opens v (or its truncation), then v^2, then v^3 (and v^4),
 * then one gate per polynomial, [low] + v^m [high] truncated by pi - outScale bits. Inputs: v (exact) or the x it
 * is made from, then the addend's x when addRaw (its factor as a raw coefficient) is given.
 */
function chainOf(arg: ArgumentShape, polys: ReadonlyArray<readonly number[]>, pi: number, outScale: number, addRaw?: bigint, outputScale: ChainCoef = 1n): ChainProgram {
  const W = POLY_SCALE;
  const G = pi - 2 * W;
  const m = splitDegree(Math.max(...polys.map((c) => c.length - 1)));
  const atom = (k: number): ChainForm => ({ atoms: [[k, 1n]] });
  const square = (f: ChainForm): ChainGate => ({ products: [[f, f]], bits: W });
  const levels: ChainGate[][] = [];
  // pw[k]: the form of v^k.
  const pw: ChainForm[] = [];
  let next: number;
  if (arg.exact) {
    levels.push([{ addend: { inputs: [[0, 1n]] }, bits: 0 }, { products: [[{ inputs: [[0, 1n]] }, { inputs: [[0, 1n]] }]], bits: W }]);
    pw[1] = atom(0);
    pw[2] = atom(1);
    next = 2;
  } else {
    levels.push([arg.squared ? { products: [[{ inputs: [[0, 1n]] }, { inputs: [[0, arg.coef]] }]], bits: arg.bits } : { addend: { inputs: [[0, arg.coef]] }, bits: arg.bits }]);
    pw[1] = { atoms: [[0, arg.mult]], constant: arg.offset };
    levels.push([square(pw[1])]);
    pw[2] = atom(1);
    next = 2;
  }
  if (m >= 3) {
    levels.push(m === 4 ? [{ products: [[pw[1], pw[2]]], bits: W }, square(pw[2])] : [{ products: [[pw[1], pw[2]]], bits: W }]);
    pw[3] = atom(next++);
    if (m === 4) pw[4] = atom(next++);
  }
  const comb = (terms: Array<[ChainForm, bigint]>, constant: bigint): ChainForm => {
    const atoms = new Map<number, bigint>();
    let c = constant;
    for (const [f, k] of terms) {
      for (const [a, w] of f.atoms ?? []) atoms.set(a, BigInt.asUintN(64, (atoms.get(a) ?? 0n) + (w as bigint) * k));
      c = BigInt.asUintN(64, c + ((f.constant as bigint | undefined) ?? 0n) * k);
    }
    return { atoms: [...atoms], constant: c };
  };
  levels.push(polys.map((c) => {
    const low = comb(c.slice(1, m + 1).map((a, i) => [pw[i + 1], fixedBig(a, pi - W)]), fixedBig(c[0], pi));
    const high = comb(c.slice(m + 1).map((a, i) => [pw[i + 1], fixedBig(a, G)]), 0n);
    return { products: [[pw[m], high]], addend: addRaw === undefined ? low : { ...low, inputs: [[1, addRaw]] }, bits: pi - outScale };
  }));
  const outputs: ChainForm[] = polys.map((_, j) => ({ atoms: [[next + j, outputScale]] }));
  return { levels, outputs };
}

/** The product scale pi and the addend's raw factor for polys under o (checked). */
function scales(polys: ReadonlyArray<readonly number[]>, o: PolyOptions): { pi: number; addK?: bigint } {
  if (polys.length === 0) throw new Error('polyEval: no polynomials');
  if (!(o.bound > 0 && o.bound <= 2)) throw new Error(`polyEval: bound ${o.bound} must be in (0, 2]`);
  if (o.bounds && (o.bounds.length !== polys.length || o.bounds.some((b) => !(b > 0 && b <= o.bound)))) throw new Error('polyEval: one bound in (0, bound] per polynomial');
  let M = Math.max(...polys.map((c, j) => c.reduce((s, a, k) => s + Math.abs(a) * (o.bounds?.[j] ?? o.bound) ** k, 0)));
  if (o.addend) M += Math.abs(o.addend.factor) * o.addend.bound;
  const pi = Math.min(60, 60 - ceilLog2(M));
  if (pi - 2 * POLY_SCALE < 12) throw new Error(`polyEval: coefficients too large (sum |a_k| bound^k = ${M}) for fixed-point evaluation`);
  if (pi - o.outScale < 1) throw new Error(`polyEval: output scale ${o.outScale} exceeds the product scale ${pi}`);
  if (!o.addend) return { pi };
  const k = o.addend.factor * 2 ** (pi - o.addend.scale);
  if (!Number.isInteger(k)) throw new Error(`polyEval: addend factor ${o.addend.factor} is not exact at scale ${pi}`);
  return { pi, addK: BigInt.asUintN(64, BigInt(k)) };
}

/**
 * The levels of polyEval's chain (degree 3 or more, results in Z_2^64), for a caller that finishes it itself
 * (protocol maskedChainFinish: each result times a bit, for a selection). outputScale multiplies every result
 * (public, per element or one), for free.
 */
export function polyEvalLevels(p: Party, input: AShare | PolyArgument, polys: ReadonlyArray<readonly number[]>, o: PolyOptions & { outputScale?: ChainCoef }): Promise<ChainRun> {
  const arg: PolyArgument = 'kind' in input ? { v: input } : input;
  const { pi, addK } = scales(polys, o);
  if (!chained(Math.max(...polys.map((c) => c.length - 1)), o.outBits)) throw new Error('polyEvalLevels: needs degree 3 or more and results in Z_2^64');
  const program = chainOf(shapeOf(arg), polys, pi, o.outScale, addK, o.outputScale);
  const x = 'v' in arg ? arg.v : arg.x;
  return maskedChainLevels(p, program, o.addend ? [x, o.addend.x] : [x], [], x.shape);
}

/** polyEvalLevels' cost, and that of finishing it (with a selection by bits or without). */
export function polyLevelsCost(n: number, maxDegree: number, count = 1, o: ArgumentKind = {}): Cost {
  return maskedChainLevelsCost(n, costProgram(maxDegree, count, o));
}
export function polyFinishCost(n: number, maxDegree: number, count = 1, o: ArgumentKind = {}, select = false): Cost {
  return maskedChainFinishCost(n, costProgram(maxDegree, count, o), select);
}

/** A chain of the structure polyEval builds (placeholder values: the declared costs read only its shape). */
function costProgram(maxDegree: number, count: number, o: ArgumentKind): ChainProgram {
  if (o.truncatedArgument && o.squaredArgument) throw new Error('poly: an argument is a truncation of x coef or of x (coef x), not both');
  const truncated = o.truncatedArgument === true || o.squaredArgument === true;
  const arg: ArgumentShape = truncated ? { exact: false, squared: o.squaredArgument === true, coef: 1n, bits: o.argumentBits ?? 1, mult: 1n, offset: 0n } : { exact: true };
  const polys = Array.from({ length: count }, () => Array.from({ length: maxDegree + 1 }, () => 0.5));
  return chainOf(arg, polys, 60, 1);
}

/** Evaluates each coefficient list (lowest degree first) at v, which must carry POLY_SCALE fraction bits. */
export function polyEval(p: Party, input: AShare | PolyArgument, polys: ReadonlyArray<readonly number[]>, o: PolyOptions): Promise<AShare[]> {
  const D = Math.max(...polys.map((c) => c.length - 1));
  if (chained(D, o.outBits)) return p.profile('poly', async () => maskedChainFinish(p, await polyEvalLevels(p, input, polys, o)));
  const arg: PolyArgument = 'kind' in input ? { v: input } : input;
  const { pi, addK } = scales(polys, o);
  const m = splitDegree(D);
  const W = POLY_SCALE;
  const G = pi - 2 * W;
  if (!('v' in arg)) throw new Error('polyEval: a truncated or squared argument needs degree 3 or more and results in Z_2^64');
  const v = arg.v;
  const addRaw = o.addend && addK !== undefined ? linComb(p, [[o.addend.x, addK]]) : undefined;
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
