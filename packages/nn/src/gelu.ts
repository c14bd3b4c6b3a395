/**
 * GeLU(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), and GPT-2's gelu_new (tanh form).
 *
 * gelu (default) and geluTanh: three pieces (even.ts): 0 for x < -4; x for x > 4; on [-4, 4]
 *   0.5 x + E(v), v = x^2/8 - 1, E of degree 6 fitted minimax (scripts/fit.ts) with E(1) = 2, so the pieces
 *   meet at both joints, and with E's v^6 coefficient fixed at -2^-5 (151/128)^6 so that lambda below is
 *   151/128. Float64 max abs error over [-16, 16]: 7.8e-4 against erf-GeLU (the tail |x| > 4 adds at most
 *   4 * Phi(-4) = 1.3e-4; 7.7e-4 with the coefficient free); the tanh variant, fitted to gelu_new itself,
 *   8.3e-4 against gelu_new (8.0e-4 free). (The erf fit is within 1.2e-3 of gelu_new too; gelu_new itself
 *   differs from erf-GeLU by up to 4.7e-4.)
 *   The polynomial branch runs in Z_2^32 (poly32.ts): w = lambda v lands in Z_2^32 at 14 fraction bits in one
 *   round (x times the integer 128 lambda / 8 = 151 and 151 x, shifted down 32 bits locally and reshared:
 *   fused.ts productSumShift32; a TruncPr into Z_2^32 took 2 rounds and 16 bytes), three 32-bit product levels
 *   follow, and the last truncation lifts the result back to Z_2^64 at 18 bits. That adds fixed-point error
 *   (1.4e-4 to 2.2e-4 measured on E, poly32.test.ts; w's downcast is within 1.5 ulps of 2^-14, and E's slope
 *   in w is largest near x = 0, where the worst errors now sit). Asserted in tests: 2e-3 over [-16, 16], in
 *   the selection bands past +-4 and at +-1000 for both (target 5e-3; measured 9.7e-4 to 1.09e-3 for the erf
 *   form and 9.6e-4 to 1.10e-3 for the tanh form against their targets over runs; 9.1e-4 to 1.04e-3 with
 *   the two-round w). Domain: |x| < 1020 (the narrow comparisons' window, piecewise.ts; outside it the result
 *   is arbitrary; w wraps in Z_2^32 beyond |x| = 940, in the piece the selection discards there).
 *   Cost: 9 rounds (2 narrow comparisons (6) in parallel with w (1) and the degree-6 polynomial (6), then
 *   the selection by bit times value (2); with 64-bit comparisons 11; PUMA's construction with SPU's costs:
 *   about 25); 8 on a few hundred elements, where the comparisons go by a dealer's tables (2) and b2a (2)
 *   beside the pieces and the selection takes 1 round (piecewise.ts selectionPlan: beyond that the tables'
 *   CPU outweighs the round, e.g. on GPT-2-base's 3,072 a decoding step). Bytes per element per party: 88.1 (93.4 with b2a beside the polynomial and a 1-round
 *   selection, 105.4 with w by TruncPr, 137.4 with the polynomial in Z_2^64): comparisons 14.8 (2 x 59 bits;
 *   60.3 with 64-bit ones), w 4 (one 32-bit lane), the polynomial 37.3 (10.7 + 10.7 + 16) and the selection
 *   32 (2 x 16, piecewise.ts; geluCost gives the total).
 *
 * geluPuma: PUMA's four pieces (arXiv 2307.12533 section 4; coefficients as published in PUMA/SPU):
 *   x < -4: 0; [-4, -1.95): cubic; [-1.95, 3]: 0.5x + even degree 6; x > 3: x. Max abs error 0.0199 at x = 3,
 *   where the last two pieces do not meet. 8 rounds here (its pieces take 3 as a masked chain, beside the
 *   circuit's comparisons, then bit times value), 5 on a few hundred elements (by tables and b2a; geluPumaCost);
 *   kept as the reference point.
 */
import type { AShare, Cost, Party } from '@puma/protocol';
import { GELU_ERF, GELU_TANH } from './coefficients.ts';
import { evenActivation, evenActivationCost, polyPieces, polyPiecesCost, type EvenFit } from './even.ts';

/**
 * Both fits evaluated in Z_2^32 (poly32.ts). The free choices of each composition came from a one-off grid
 * search (k in [-7, -3], sigma in [-2, 2], tau in [-3, 1], r in [-3, 2], steps of 1/4) over a float64
 * simulation of the stochastic roundings; any choice giving sane scales is correct, these give small error
 * (poly32.test.ts measures 1.4e-4 to 2.2e-4 on E with the fits' v^6 coefficient fixed, 1.3e-4 to 1.9e-4
 * free). Choices with k = -9 scored better on a worst-case bound but measured worse (1.5e-4 and 2.5e-4).
 * k = -5 is now tied to the fits: their v^6 coefficient -2^-5 (151/128)^6 gives lambda = 151/128, which the
 * one-round w needs (even.ts bandVariables refuses a lambda that is not a multiple of 2^-7).
 */
export const GELU_ERF_32: EvenFit = { bands: [{ ...GELU_ERF.bands[0], ring32: { k: -5, sigma: -1, tau: -1.75, r: 0.25 } }] };
export const GELU_TANH_32: EvenFit = { bands: [{ ...GELU_TANH.bands[0], ring32: { k: -5, sigma: -1.5, tau: -1.25, r: 0 } }] };

export const geluCost = (n: number): Cost => evenActivationCost(n, GELU_ERF_32, false);
export const geluTanhCost = (n: number): Cost => evenActivationCost(n, GELU_TANH_32, false);

export function gelu(p: Party, x: AShare): Promise<AShare> {
  return p.profile('gelu', () => evenActivation(p, x, GELU_ERF_32));
}

/** GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluTanh(p: Party, x: AShare): Promise<AShare> {
  return p.profile('geluTanh', () => evenActivation(p, x, GELU_TANH_32));
}

const PUMA_CUBIC = [-0.5054031199708174, -0.42226581151983866, -0.11807612951181953, -0.011034134030615728];
const PUMA_EVEN6 = [0.008526321541038084, 0.5, 0.3603292692789629, 0, -0.037688200365904236, 0, 0.0018067462606141187];
/** Both pieces in v = x / 4. */
const scaled = (c: readonly number[]): number[] => c.map((a, k) => a * 4 ** k);

export const geluPumaCost = (n: number): Cost => polyPiecesCost(n, 3, 6, 2);

/** PUMA selects x for x > 3, so the last breakpoint sits one ulp above 3. */
export function geluPuma(p: Party, x: AShare): Promise<AShare> {
  return p.profile('geluPuma', () => polyPieces(p, x, [-4, -1.95, 3 + 2 ** -p.fracBits], 4, [{ coeffs: scaled(PUMA_CUBIC), bound: 1 }, { coeffs: scaled(PUMA_EVEN6), bound: 0.75 }]));
}
