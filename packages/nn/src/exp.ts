/**
 * exp(x) for x <= 0 (softmax's exponent after subtracting the row max).
 * Formula: exp(x) = (exp(x/8))^8 ~ P(x/8)^8 with P a degree-4 polynomial fitted (scripts/fit.ts) so that
 * P^8 is minimax in absolute error on [-14, 0]; exp(x) = 0 below -14 (true value < 8.4e-7), as PUMA does.
 * Choice of t = 3 squarings: PUMA's base 1 + x/2^t has max error 8.5e-3 at t = 5 (10 rounds of squaring) and
 * 1.1e-3 at t = 8 (16 rounds); softmax, the consumer, must stay within 2e-3 per entry and exp's error enters
 * the denominator and every entry, so t = 5 is not enough and t = 8 costs 6 extra rounds. The mask needs
 * 10 rounds anyway (64-bit comparison 8, b2a 2), so the best use of them is 5 multiplication levels: a fitted
 * quartic base (2 levels) and t = 3 (3 levels), float64 error 3.1e-6, 300x below the softmax budget.
 * (t = 2 would need a degree-8 base, also 10 rounds but more bytes; the Taylor quartic instead of the fit
 * would be far worse near -14.)
 * Input domain: -1000 <= x <= 0.025 (below -14 - 2^-6 exactly 0; in [-14, -14 + 2^-6) 0 or exp(x) < 8.4e-7,
 * the narrow comparison's band; up to 0.025 because softmax's narrow max may sit 0.0234 below the true max;
 * below -1038 the window wraps and the result is arbitrary). Fraction bits <= 18.
 * Asserted max abs error: 2e-5 on [-14, 0] (float64 fit 3.1e-6 plus fixed-point evaluation; measured 6.5e-6).
 * Cost: 11 rounds: [x < -14] (narrow, 6) and b2a (2) in parallel with the polynomial (4) and squarings (6),
 * then one ring product. Bytes per element per party: comparison 7.4 (30.1 with a 64-bit one), b2a, five
 * mulTrunc, selection 8 (expCost).
 * Paper: PUMA (arXiv 2307.12533) section 4, softmax; the fitted base polynomial is this package's.
 */
import { type AShare, type Cost, type Party, mulPublicInt, seq } from '@puma/protocol';
import { EXP } from './coefficients.ts';
import { mulTrunc, mulTruncCost, zerosLike } from './fused.ts';
import { POLY_SCALE, polyCost, polyEval } from './poly.ts';
import { selectPieces, selectPiecesCost } from './piecewise.ts';

/** Fraction bits of P and its squares: P <= 1, so P^2 stays below 2^60 before truncation. */
const SQUARE_SCALE = 30;

export const expCost = (n: number): Cost =>
  selectPiecesCost(n, 1, seq(polyCost(n, EXP.coeffs.length - 1), ...Array.from({ length: EXP.squarings }, () => mulTruncCost(n))));

async function expUnmasked(p: Party, x: AShare): Promise<AShare> {
  const m = 2 ** EXP.squarings;
  const shift = POLY_SCALE - p.fracBits - EXP.squarings;
  if (shift < 0) throw new Error(`exp: needs at most ${POLY_SCALE - EXP.squarings} fraction bits, session has ${p.fracBits}`);
  // v = x / 8 at POLY_SCALE fraction bits: an exact integer multiple of x's encoding.
  const v = mulPublicInt(p, x, 1n << BigInt(shift));
  let [e] = await polyEval(p, v, [EXP.coeffs], { bound: -EXP.lo / m, outScale: SQUARE_SCALE });
  for (let i = 0; i < EXP.squarings; i++) {
    e = await mulTrunc(p, e, e, i === EXP.squarings - 1 ? 2 * SQUARE_SCALE - p.fracBits : SQUARE_SCALE);
  }
  return e;
}

/** exp(x) elementwise for x <= 0, any shape. */
export function exp(p: Party, x: AShare): Promise<AShare> {
  return p.profile('exp', () => selectPieces(p, x, [EXP.lo], async (q) => [zerosLike(q, x.shape), await expUnmasked(q, x)]));
}
