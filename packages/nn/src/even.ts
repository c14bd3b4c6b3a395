/**
 * The shape shared by GeLU and SiLU: f(x) = relu(x) - g(|x|) with g decaying fast, i.e.
 *   f(x) = 0.5 x + h(x),  h even  (gelu: h = 0.5 x erf(x/sqrt2); silu: h = 0.5 x tanh(x/2)).
 * Three pieces: 0 below -T, x above T, and 0.5 x + E(v) with v = 2x^2/T^2 - 1 in [-1, 1] on [-T, T], E fitted
 * with E(1) = T/2. Because h is even, that one constraint makes BOTH joints continuous (no jump like PUMA's
 * pieces), and the variable v is one product away from x, with all powers bounded by 1.
 * Rounds: the polynomial branch takes 2 (v) + 6 (degree 5-8: three levels) = 8, within the 10 rounds of the
 * two batched comparisons and their b2a, so the whole function costs 11 rounds (selection is 1 round).
 * An optional gate u multiplies the result (SwiGLU: silu(x) u): the pieces become 0, E u and x u; x u is
 * computed at the start and (0.5x + E) u right after the polynomial, still inside the 10 rounds.
 */
import { mul, mulCost, addPublicRaw, mulPublicInt, type AShare, type Cost, type Party, seq, sameShape } from '@puma/protocol';
import { mulTrunc, mulTruncCost, zerosLike } from './fused.ts';
import { fixedBig, par, ZERO_COST } from './fixed.ts';
import { POLY_SCALE, polyCost, polyEval } from './poly.ts';
import { selectPieces, selectPiecesCost } from './piecewise.ts';

export interface EvenFit {
  readonly T: number;
  readonly coeffs: readonly number[];
}

/** Truncation of x * (K x) into v: the product, at most 2 * 2^(POLY_SCALE + V_BITS) = 2^60 for |x| <= T, fits. */
const V_BITS = 60 - POLY_SCALE - 1;

/** v = 2x^2/T^2 - 1 at POLY_SCALE fraction bits (in [-1, 1] for |x| <= T; garbage far outside): 2 rounds. */
export async function squareVariable(p: Party, x: AShare, T: number): Promise<AShare> {
  // x * (K x) / 2^V_BITS = (2 x^2 / T^2) 2^POLY_SCALE, with x^2 carrying 2f fraction bits.
  const K = fixedBig(2 / (T * T), V_BITS + POLY_SCALE - 2 * p.fracBits);
  return addPublicRaw(p, await mulTrunc(p, x, mulPublicInt(p, x, K), V_BITS), BigInt.asUintN(64, -(1n << BigInt(POLY_SCALE))));
}

export function evenActivationCost(n: number, fit: EvenFit, gated: boolean): Cost {
  const gate = gated ? mulCost(n) : ZERO_COST;
  return selectPiecesCost(n, 2, par(seq(mulTruncCost(n), polyCost(n, fit.coeffs.length - 1), gate), gate));
}

/** 0.5 x + E(v) on [-T, T] (garbage outside, where the selection discards it), at the session's fraction bits. */
async function middle(p: Party, x: AShare, fit: EvenFit): Promise<AShare> {
  const f = p.fracBits;
  const v = await squareVariable(p, x, fit.T);
  const [mid] = await polyEval(p, v, [fit.coeffs], { bound: 1, outScale: f, addend: { x, scale: f, factor: 0.5, bound: fit.T / 2 } });
  return mid;
}

export function evenActivation(p: Party, x: AShare, fit: EvenFit, gate?: AShare): Promise<AShare> {
  if (gate) sameShape(x, gate, 'gated activation');
  return selectPieces(p, x, [-fit.T, fit.T], async (q) => {
    const [mid, top] = await q.parallel(
      async (b) => {
        const m = await middle(b, x, fit);
        return gate ? mul(b, m, gate) : m;
      },
      async (b) => (gate ? mul(b, x, gate) : x),
    );
    return [zerosLike(q, x.shape), mid, top];
  });
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
  });
}

export function polyPiecesCost(n: number, breaks: number, maxDegree: number, count: number): Cost {
  return selectPiecesCost(n, breaks, polyCost(n, maxDegree, count));
}
