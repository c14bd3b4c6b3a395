/**
 * SwiGLU gating as LLaMA's MLP uses it: silu(gate) * up, elementwise (the projections around it are matmuls).
 * Formula and error: silu's (silu.ts), times up; the gate product is folded into the selection
 * (piecewise.ts selectPiecesTimes): each comparison bit times up is one bit-times-value product right after
 * the comparisons, then (g up - sum_k ([g < t_k] up) (P_k - P_{k-1})) is one fused product sum truncated once,
 * so silu(gate) is never materialised and up meets the pieces in the same round.
 * Asserted max abs error: 2e-4 |up| + 2e-5 for gate in [-16, 16] and +-1000 (measured within 9.1e-5 |up| +
 * 2e-5); domain as silu's for gate (|gate| < 1010), |up| with |silu(gate) up| < 2^13.
 * Cost: 10 rounds (comparisons 6 + bit times up 2 beside silu's polynomials 8, then the fused truncation 2;
 * pieces times up and then a selection took 11); bytes 328.2 per element per party (381.5 before: the three
 * products by up and four b2a plus selection products become four bit-times-value products and one
 * truncation; swigluCost).
 * Paper: PUMA (arXiv 2307.12533) section 5 (LLaMA-7B); the fused form is this package's.
 */
import type { AShare, Cost, Party } from '@puma/protocol';
import { SILU } from './coefficients.ts';
import { evenActivation, evenActivationCost } from './even.ts';

export const swigluCost = (n: number): Cost => evenActivationCost(n, SILU, true);

export function swiglu(p: Party, gate: AShare, up: AShare): Promise<AShare> {
  return p.profile('swiglu', () => evenActivation(p, gate, SILU, up));
}
