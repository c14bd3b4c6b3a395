/**
 * exp(x) for x <= 0 (softmax's exponent after subtracting the row max).
 * Formula: exp(x) = (exp(x/8))^8 ~ P(x/8)^8 with P a degree-4 polynomial fitted (scripts/fit.ts) so that
 * P^8 is minimax in absolute error on [-14, 0]; exp(x) = 0 below -14 (true value < 8.4e-7), as PUMA does.
 * Choice of t = 3 squarings: PUMA's base 1 + x/2^t has max error 8.5e-3 at t = 5 (10 rounds of squaring) and
 * 1.1e-3 at t = 8 (16 rounds); softmax, the consumer, must stay within 2e-3 per entry and exp's error enters
 * the denominator and every entry, so t = 5 is not enough and t = 8 costs 6 extra rounds. 5 multiplication
 * levels (10 rounds, the mask's comparison and b2a beside them) are spent as a fitted quartic base (2 levels)
 * and t = 3 (3 levels): float64 error 3.1e-6, 300x below the softmax budget.
 * (t = 2 would need a degree-8 base, also 10 rounds but more bytes; the Taylor quartic instead of the fit
 * would be far worse near -14.)
 * Two rings (issue 12, "a two-ring pipeline"; ring casting as in Ditto, ICML 2024, and Nimbus, NeurIPS 2024):
 * v^2 and the quartic's fused product run in Z_2^64 (v = x/8 needs x's 18 bits and the coefficients their own);
 * the quartic's truncation lands in Z_2^32 (P at 15 fraction bits), the squarings multiply in Z_2^32 and the last
 * one lifts the result back to Z_2^64 at the session's fraction bits (truncateRing.ts). A product in Z_2^32 must
 * sum below 2^30, so its operands carry 15 bits at most: each squaring is centred,
 *   e' = ((e * e - 2^29) >> (30 - s)) + 2^(s-1)    (e at 15 bits; e^2 - 1/2 in [-0.47, 0.51] for e in [0.17, 1.003]),
 * which lets e keep 15 bits instead of 14. The price is precision: P, P^2 and P^4 are rounded to 2^-15
 * (stochastic, unbiased, at most 1 ulp each) and those errors are amplified by 8 P^7, 4 P^6 and 2 P^4, so the
 * worst case is 14 * 2^-15 = 4.3e-4 near x = 0 (plus the fit's 3.1e-6); softmax (2e-3 per entry) divides it by
 * its row sum (at least 1). Z_2^64 squarings kept 2^-30.
 * The mask is folded into the last squaring: the indicator b = [x < -14] is ready (comparison 6 rounds, b2a
 * into Z_2^32 2) when P^4 is, so m = P^4 - b P^4 is one exact product in Z_2^32 (mulRaw32.ts) and the last
 * level squares m P^4 = (1 - b) P^8. Where b = 1, m = 0 whatever garbage P^4 holds, and the centred sum
 * -2^29 truncates exactly to -1/2 (TruncPr is exact on multiples of 2^d), so the output is exactly 0.
 * Input domain: -1000 <= x <= 0.025 (below -14 - 2^-6 exactly 0; in [-14, -14 + 2^-6) 0 or exp(x) < 8.4e-7,
 * the narrow comparison's band; up to 0.025 because softmax's narrow max may sit 0.0234 below the true max;
 * below -1038 the window wraps and the result is arbitrary). Fraction bits <= 18.
 * Asserted max abs error: 6e-4 on [-14, 0.025] (worst case 4.4e-4: the above plus the last rounding 2^-18;
 * measured 2.0e-4 to 3.0e-4 over runs, as the masks vary); it was 2e-5 with every product in Z_2^64 (measured
 * 6.5e-6). Softmax's entries stay within 2e-3 (measured up to 3.0e-4, softmax.test.ts).
 * Cost: 11 rounds: [x < -14] (narrow, 6) and b2a (2) beside the polynomial (4) and two squarings (4), then
 * the masking product (1) and the last squaring (2). Bytes per element per party, averaged over the rotating
 * dealers: comparison 7.4, b2a 5.3 (32-bit lanes), v^2 21.3 (64 -> 64), the quartic 16 (64 -> 32), squarings
 * 10.7 and 10.7 (32 -> 32), the mask 4 (32-bit lanes), the last squaring 16 (32 -> 64): 91.4 in all (expCost),
 * 132.7 with every product, the b2a and the selection in Z_2^64.
 * Softmax runs this exp on large calls only; small ones (decoding steps, short prompts) take exp-lanes.ts:
 * 8 rounds and 1.3e-5 for 2.9 times the bytes.
 * Paper: PUMA (arXiv 2307.12533) section 4, softmax; the fitted base polynomial is this package's.
 */
import {
  addPublicRaw, b2a, b2aCost, fixedPointWindow, lessThanNarrowCost, lessThanPublicNarrow, mulPublicInt, mulRaw32, mulRaw32Cost, NARROW_BITS, reshape, seq, sub,
  type AShare, type Cost, type Party,
} from '@puma/protocol';
import { EXP } from './coefficients.ts';
import { par } from './fixed.ts';
import { mulTruncRingCost, productSumTruncRing, zerosLike } from './fused.ts';
import { POLY_SCALE, polyCost, polyEval } from './poly.ts';

/** Fraction bits of P and its squares in Z_2^32: a centred square sums to at most 0.51 * 2^30. */
const SQUARE_BITS = 15;
const SQUARE_RINGS = { inBits: 32, outBits: 32 } as const;
const LIFT_RINGS = { inBits: 32, outBits: 64 } as const;

export const expCost = (n: number): Cost =>
  seq(
    par(
      seq(lessThanNarrowCost(n, { drop: 0, bits: NARROW_BITS }), b2aCost(n, 32)),
      seq(polyCost(n, EXP.coeffs.length - 1, 1, 32), ...Array.from({ length: EXP.squarings - 1 }, () => mulTruncRingCost(n, SQUARE_RINGS))),
    ),
    mulRaw32Cost(n),
    mulTruncRingCost(n, LIFT_RINGS),
  );

/** A share of the public ring integer c (every component zero but the one that carries public constants). */
const publicRaw = (p: Party, shape: readonly number[], c: bigint): AShare => addPublicRaw(p, zerosLike(p, shape), BigInt.asUintN(64, c));

/** (e * f - 1/2) truncated from 2 SQUARE_BITS to `scale` fraction bits, plus 1/2: e f, centred (see the header). */
async function centredProduct(p: Party, e: AShare, f: AShare, scale: number, rings: typeof SQUARE_RINGS | typeof LIFT_RINGS): Promise<AShare> {
  const centre = publicRaw(p, e.shape, -(1n << BigInt(2 * SQUARE_BITS - 1)));
  return addPublicRaw(p, await productSumTruncRing(p, [[e, f]], 2 * SQUARE_BITS - scale, rings, centre), 1n << BigInt(scale - 1));
}

/** P(x/8)^4 in Z_2^32 at SQUARE_BITS fraction bits (garbage below x = -14). */
async function fourthPower(p: Party, x: AShare): Promise<AShare> {
  const m = 2 ** EXP.squarings;
  // v = x / 8 at POLY_SCALE fraction bits: an exact integer multiple of x's encoding.
  const v = mulPublicInt(p, x, 1n << BigInt(POLY_SCALE - p.fracBits - EXP.squarings));
  let [e] = await polyEval(p, v, [EXP.coeffs], { bound: -EXP.lo / m, outScale: SQUARE_BITS, outBits: 32 });
  for (let i = 0; i < EXP.squarings - 1; i++) e = await centredProduct(p, e, e, SQUARE_BITS, SQUARE_RINGS);
  return e;
}

/** exp(x) elementwise for x <= 0, any shape. */
export function exp(p: Party, x: AShare): Promise<AShare> {
  const maxBits = POLY_SCALE - EXP.squarings;
  if (p.fracBits > maxBits) return Promise.reject(new Error(`exp: needs at most ${maxBits} fraction bits, session has ${p.fracBits}`));
  return p.profile('exp', async () => {
    const [below, e4] = await p.parallel(
      async (q) => b2a(q, await lessThanPublicNarrow(q, x, EXP.lo, fixedPointWindow(q.fracBits)), 32),
      (q) => fourthPower(q, x),
    );
    const masked = sub(p, e4, await mulRaw32(p, reshape(below, x.shape), e4));
    return centredProduct(p, masked, e4, p.fracBits, LIFT_RINGS);
  });
}
