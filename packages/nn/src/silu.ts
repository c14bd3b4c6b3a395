/**
 * SiLU(x) = x sigmoid(x) (LLaMA's activation).
 *
 * silu (default): three pieces (even.ts): 0 for x < -8; x for x > 8; on [-8, 8] 0.5 x + E(v), v = x^2/32 - 1,
 *   E of degree 8 fitted minimax with E(1) = 4, continuous at both joints. Float64 max abs error over
 *   [-16, 16]: 2.68e-3, attained at the joints (8 sigmoid(-8) = 2.68e-3 is the tail it drops).
 *   Why not PUMA's pieces: on x > 4 PUMA returns x while silu(4) = 3.928, a 0.072 jump; moving the joint to
 *   8 and using the even structure removes it. Asserted in tests: 4e-3 over [-16, 16] (target 1e-2).
 *   Measured 2.7e-3. Domain: any x. Cost: 11 rounds; bytes per element per party (P0 / P1 / P2):
 *   268.3 / 172.3 / 172.3 (GeLU's plus one mulTrunc for v^4, which degree 8 needs).
 *
 * siluPuma: PUMA's pieces (arXiv 2307.12533 section 4; coefficients as published in PUMA/SPU):
 *   x < -8: 0; [-8, -4): quadratic; [-4, 4]: 0.5x + even degree 6; x > 4: x. Max abs error 0.072 (x just
 *   above 4). Same 11 rounds, 290.4 / 202.4 / 202.4 bytes per element; kept as the reference point.
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
