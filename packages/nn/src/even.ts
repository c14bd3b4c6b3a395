/**
 * The shape shared by GeLU and SiLU: f(x) = relu(x) - g(|x|) with g decaying fast, i.e.
 *   f(x) = 0.5 x + h(x),  h even  (gelu: h = 0.5 x erf(x/sqrt2); silu: h = 0.5 x tanh(x/2)).
 * Pieces: 0 below -T, x above T, and in between 0.5 x + E_b(v_b) on bands of |x|: band b covers
 * lo_b <= |x| <= hi_b with v_b = (2x^2 - lo_b^2 - hi_b^2) / (hi_b^2 - lo_b^2) in [-1, 1] (for lo = 0:
 * v = 2x^2/T^2 - 1). The outermost band is fitted with E(1) = T/2 and each inner band with E(1) equal to the
 * next band's E(-1): since h is even, those constraints make EVERY joint continuous (no jump like PUMA's
 * pieces). Each v_b is one product away from x (all bands in one batched product), with powers bounded by 1.
 * GeLU needs one band (its tail decays like exp(-x^2/2)); SiLU's tail decays only like x exp(-x), so it
 * needs a large T, and two bands keep each polynomial at degree 8 with small coefficients.
 * Rounds: the polynomial branch is one masked chain per band (poly.ts; bands in parallel) whose level 0 is
 * v's product x (K x) and its truncation (poly.ts's squared argument): 5 rounds for degree 5-8 (2 for v as a
 * separate product and 4 for the chain took 6); the batched narrow comparisons run beside it, and the
 * selection follows (piecewise.ts selectionPlan): 8 rounds by the circuit's comparisons and bit times value, 6
 * where they go by a dealer's tables and b2a (calls of a few hundred elements). An optional gate u multiplies
 * the result (SwiGLU: silu(x) u): the selection then runs as piecewise.ts's selectPiecesTimes, each indicator
 * times u as bit times value right after the comparisons, beside the polynomials, and the selected piece times
 * u as one fused product sum with one truncation (2): 10 rounds by the circuit, 7 by tables (gatedByTables).
 * Domain: the narrow window's, |x| < 1024 - T - 2^-5.
 * Bytes: every band adds two comparisons and its polynomial (see evenActivationCost). A single band of
 * degree 6 with `ring32` set (GeLU) runs its polynomial in Z_2^32 (poly32.ts): w = lambda v goes from its
 * Z_2^64 product to Z_2^32 by a local shift and one 32-bit resharing (fused.ts productSumShift32: 1 round, 4
 * bytes; lambda 2 / (hi^2 - lo^2) must then be a multiple of 2^-10), and the polynomial's last truncation
 * lifts the result back to Z_2^64: 44 bytes less per element than in Z_2^64 (GeLU 137.4 -> 93.4; 105.4 when
 * w was a 2-round TruncPr into Z_2^32), the same 9 rounds (the polynomial branch takes 7, so piecewise.ts
 * selects by bit times value: 88.1).
 */
import { addPublicRaw, concatFlat, mulPublicInt, numel, splitFlat, type AShare, type Cost, type Party, seq, sameShape } from '@puma/protocol';
import { mulTrunc, productSumShift32, productSumShift32Cost, zerosLike } from './fused.ts';
import { sextic32Cost, sextic32Eval, sextic32Plan, type Sextic32Plan, type SexticFree } from './poly32.ts';
import { fixedBig, par } from './fixed.ts';
import { POLY_SCALE, polyCost, polyEval, type PolyArgument } from './poly.ts';
import { selectPieces, selectPiecesCost, selectPiecesTimes, selectPiecesTimesCost } from './piecewise.ts';

/** 0.5 x + E(v) on lo <= |x| <= hi, E in monomials of v (lowest degree first). */
export interface EvenBand {
  readonly lo: number;
  readonly hi: number;
  readonly coeffs: readonly number[];
  /** Degree 6 only: evaluate E in Z_2^32 (poly32.ts) with these free choices of its composition. */
  readonly ring32?: SexticFree;
}

/** Bands from |x| = 0 outwards, contiguous; the last one ends at T. */
export interface EvenFit {
  readonly bands: readonly EvenBand[];
}

/**
 * Truncation of x * (K x) into v at `scale` fraction bits: the product is at most 2 hi^2 / (hi^2 - lo^2) *
 * 2^(scale + vBits) for |x| <= hi, i.e. below 2^62 (the truncation's precondition) for the bands in use
 * (hi^2 / (hi^2 - lo^2) < 2).
 */
const vBits = (scale: number): number => 59 - scale;
/** The Z_2^32 variable's shift: the most a local downcast may drop and stay exact modulo 2^32. */
const SHIFT32 = 32;

/** A single band of degree 6 with ring32 set runs in Z_2^32: its plan (the addend 0.5 x is at most hi / 2). */
function ring32Plan(fit: EvenFit): Sextic32Plan | null {
  const [band, ...rest] = fit.bands;
  return band.ring32 && rest.length === 0 ? sextic32Plan(band.coeffs, band.ring32, band.hi / 2) : null;
}

function bandScale(lo: number, hi: number): number {
  if (!(lo >= 0 && hi > lo && (hi * hi) / (hi * hi - lo * lo) < 2)) throw new Error(`even band [${lo}, ${hi}] is invalid or too narrow for its variable`);
  return 2 / (hi * hi - lo * lo);
}

/**
 * Each band's v = (2x^2 - lo^2 - hi^2) / (hi^2 - lo^2) at POLY_SCALE fraction bits: one batched product, 2 rounds.
 * With `to32`, lambda v at `to32.scale` bits in Z_2^32 instead (one band), in 1 round: x times the integer
 * lambda 2 / (hi^2 - lo^2) 2^j, shifted down by 32 bits into Z_2^32 (fused.ts's productSumShift32; j = 32 +
 * scale - 2f, 10 for GeLU), so lambda 2 / (hi^2 - lo^2) must be a multiple of 2^-j (GeLU: lambda = 151/128).
 */
export async function bandVariables(p: Party, x: AShare, bands: ReadonlyArray<{ lo: number; hi: number }>, to32?: { lambda: number; scale: number }): Promise<AShare[]> {
  const f = p.fracBits;
  const scale = to32?.scale ?? POLY_SCALE;
  const lambda = to32?.lambda ?? 1;
  let product: AShare;
  if (to32) {
    if (bands.length !== 1) throw new Error(`bandVariables: Z_2^32 takes one band, got ${bands.length}`);
    const j = SHIFT32 + scale - 2 * f;
    const k = lambda * bandScale(bands[0].lo, bands[0].hi) * 2 ** j;
    if (!(j >= 0) || Math.abs(k - Math.round(k)) > 1e-9) throw new Error(`bandVariables: lambda ${lambda} times the band's scale is not a multiple of 2^-${j} (needed for a Z_2^32 variable at ${scale} bits, ${f} fraction bits)`);
    product = await productSumShift32(p, [[x, mulPublicInt(p, x, BigInt(Math.round(k)))]], SHIFT32);
  } else {
    const V = vBits(scale);
    const scaled = bands.map((b) => mulPublicInt(p, x, bandFactor(b, f)));
    product = await mulTrunc(p, concatFlat(p, bands.map(() => x)), concatFlat(p, scaled), V);
  }
  const sq = splitFlat(p, product, bands.map(() => x.shape));
  return sq.map((v, i) => addPublicRaw(p, v, bandOffset(bands[i], scale, lambda)));
}

/** K with x (K x) / 2^vBits = (2 x^2 / (hi^2 - lo^2)) 2^POLY_SCALE, x^2 carrying 2f fraction bits. */
const bandFactor = (b: { lo: number; hi: number }, f: number): bigint => fixedBig(bandScale(b.lo, b.hi), vBits(POLY_SCALE) + POLY_SCALE - 2 * f);

/** The ring word added to lambda 2 x^2 / (hi^2 - lo^2) (at `scale` bits) to make lambda v. */
const bandOffset = ({ lo, hi }: { lo: number; hi: number }, scale: number, lambda = 1): bigint =>
  BigInt.asUintN(64, -fixedBig((lambda * (lo * lo + hi * hi)) / (hi * hi - lo * lo), scale));

/**
 * A band in Z_2^64 takes v as its masked chain's squared argument (poly.ts; its polynomial of degree 3 or more):
 * the product x (K x) and its truncation are the chain's level 0, one round instead of bandVariables' two.
 */
function bandArgument(x: AShare, b: EvenBand, f: number): PolyArgument {
  return { x, coef: bandFactor(b, f), bits: vBits(POLY_SCALE), mult: 1n, offset: bandOffset(b, POLY_SCALE), squared: true };
}

/** v = 2x^2/T^2 - 1 at POLY_SCALE fraction bits (in [-1, 1] for |x| <= T; garbage far outside): 2 rounds. */
export async function squareVariable(p: Party, x: AShare, T: number): Promise<AShare> {
  const [v] = await bandVariables(p, x, [{ lo: 0, hi: T }]);
  return v;
}

/** Cost of bandValues: every band's 0.5 x + E_b(v_b) (the pieces the selection chooses among). */
export function evenPiecesCost(n: number, fit: EvenFit): Cost {
  return ring32Plan(fit)
    ? seq(productSumShift32Cost(n), sextic32Cost(n))
    : par(...fit.bands.map((b) => polyCost(n, b.coeffs.length - 1, 1, 64, { squaredArgument: true, argumentBits: vBits(POLY_SCALE) })));
}

export function evenActivationCost(n: number, fit: EvenFit, gated: boolean): Cost {
  const K = fit.bands.length;
  const values = evenPiecesCost(n, fit);
  return gated ? selectPiecesTimesCost(n, 2 * K, values) : selectPiecesCost(n, 2 * K, values);
}

/** 0.5 x + E_b(v_b) for every band (garbage outside each band, where the selection discards it). */
async function bandValues(p: Party, x: AShare, fit: EvenFit): Promise<AShare[]> {
  const f = p.fracBits;
  const plan = ring32Plan(fit);
  if (plan) {
    const [w] = await bandVariables(p, x, fit.bands, { lambda: plan.c.lambda, scale: plan.wBits });
    return [await sextic32Eval(p, w, plan, f, { x, scale: f, factor: 0.5 })];
  }
  return p.parallel(...fit.bands.map((b) => async (q: Party) => {
    const [mid] = await polyEval(q, bandArgument(x, b, f), [b.coeffs], { bound: 1, outScale: f, addend: { x, scale: f, factor: 0.5, bound: b.hi / 2 } });
    return mid;
  }));
}

export function evenActivation(p: Party, x: AShare, fit: EvenFit, gate?: AShare): Promise<AShare> {
  if (gate) sameShape(x, gate, 'gated activation');
  const his = fit.bands.map((b) => b.hi);
  fit.bands.forEach((b, i) => {
    if (b.lo !== (i === 0 ? 0 : his[i - 1])) throw new Error(`even bands must be contiguous from 0; band ${i} starts at ${b.lo}`);
  });
  // Breaks -T < ... < -hi_0 < hi_0 < ... < T (T the top band's end); pieces 0, band K-1 .. band 0 .. band K-1, x.
  const breaks = [...his.map((h) => -h).reverse(), ...his];
  const pieces = async (q: Party): Promise<AShare[]> => {
    const mids = await bandValues(q, x, fit);
    return [zerosLike(q, x.shape), ...[...mids].reverse(), ...mids.slice(1), x];
  };
  const piecesCost = evenPiecesCost(numel(x), fit);
  return gate ? selectPiecesTimes(p, x, breaks, gate, pieces, piecesCost) : selectPieces(p, x, breaks, pieces, piecesCost.rounds);
}
/**
 * A piecewise function whose pieces are polynomials of v = x / scaleDiv (|v| <= 1 where used), with public
 * breakpoints; used for PUMA's reference approximations. Piece 0 is 0 and the last piece is x.
 */
export function polyPieces(p: Party, x: AShare, breaks: readonly number[], scaleDiv: number, polys: ReadonlyArray<{ coeffs: readonly number[]; bound: number }>): Promise<AShare> {
  const shift = POLY_SCALE - p.fracBits - Math.log2(scaleDiv);
  if (!Number.isInteger(shift) || shift < 0) throw new Error(`polyPieces: x/${scaleDiv} is not exact at ${POLY_SCALE} fraction bits`);
  return selectPieces(p, x, breaks, async (q) => {
    const v = mulPublicInt(q, x, 1n << BigInt(shift));
    const mids = await polyEval(q, v, polys.map((c) => c.coeffs), { bound: 1, bounds: polys.map((c) => c.bound), outScale: q.fracBits });
    return [zerosLike(q, x.shape), ...mids, x];
  }, polyCost(numel(x), Math.max(...polys.map((c) => c.coeffs.length - 1)), polys.length).rounds);
}

export function polyPiecesCost(n: number, breaks: number, maxDegree: number, count: number): Cost {
  return selectPiecesCost(n, breaks, polyCost(n, maxDegree, count));
}
