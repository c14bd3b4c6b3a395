/**
 * SiLU(x) = x sigmoid(x) (LLaMA's activation).
 *
 * silu (default): five pieces (even.ts): 0 for x < -12; x for x > 12; 0.5 x + E_b(v_b) on the bands
 *   |x| <= 5 and 5 <= |x| <= 12, each E_b of degree 8 fitted minimax, continuous at every joint.
 *   Float64 max abs error over [-16, 16]: 7.4e-5 (12 sigmoid(-12) is the tail it drops); measured in the ring
 *   9.9e-5, asserted 2e-4. Why two bands and T = 12: with one band on [-8, 8] the error is 2.7e-3 (the tail
 *   8 sigmoid(-8)), which moves stories260K's logits by up to 0.12 (its top-2 gap falls to 0.053); a single
 *   polynomial reaching 12 needs degree 16 and coefficients too large for 64-bit fixed point.
 *   Why not PUMA's pieces: on x > 4 PUMA returns x while silu(4) = 3.928, a 0.072 jump.
 *   Domain: |x| < 1010 (the narrow comparisons' window, piecewise.ts; outside it the result is arbitrary);
 *   asserted also in the selection bands past each joint and at +-1000. Cost: 8 rounds, 6 on a few hundred
 *   elements: the polynomials are masked chains whose level 0 is the band variable's product x (K x) and its
 *   truncation (poly.ts's squared argument: 5 rounds; 6 with v as a separate product, 8 as separate products),
 *   beside the comparisons, by the circuit then bit times value (8), or by a dealer's tables and b2a then 1
 *   selection round (6; piecewise.ts selectionPlan); bytes: four narrow comparisons (29.5 per element) and two polynomials (siluCost).
 * siluPuma: PUMA's pieces (arXiv 2307.12533 section 4; coefficients as published in PUMA/SPU):
 *   x < -8: 0; [-8, -4): quadratic; [-4, 4]: 0.5x + even degree 6; x > 4: x. Max abs error 0.072 (x just
 *   above 4). 8 rounds on long inputs, fewer where its comparisons go by tables (piecewise.ts selectionPlan); kept as the reference point.
 */
import type { AShare, Cost, Party } from '@puma/protocol';
import { SILU } from './coefficients.ts';
import { evenActivation, evenActivationCost, polyPieces, polyPiecesCost } from './even.ts';

export const siluCost = (n: number): Cost => evenActivationCost(n, SILU, false);

export function silu(p: Party, x: AShare): Promise<AShare> {
  return p.profile('silu', () => evenActivation(p, x, SILU));
}

const PUMA_QUAD = [-0.3067541139982155, -0.0819767021525476, -0.0055465625580307];
const PUMA_EVEN6 = [0.0085064025895951, 0.5, 0.228143084172827, 0, -0.011113046708173, 0, 0.0002743776353465];
/** Both pieces in v = x / 8. */
const scaled = (c: readonly number[]): number[] => c.map((a, k) => a * 8 ** k);

export const siluPumaCost = (n: number): Cost => polyPiecesCost(n, 3, 6, 2);

/** PUMA selects x for x > 4, so the last breakpoint sits one ulp above 4. */
export function siluPuma(p: Party, x: AShare): Promise<AShare> {
  return p.profile('siluPuma', () => polyPieces(p, x, [-8, -4, 4 + 2 ** -p.fracBits], 8, [{ coeffs: scaled(PUMA_QUAD), bound: 1 }, { coeffs: scaled(PUMA_EVEN6), bound: 0.5 }]));
}
