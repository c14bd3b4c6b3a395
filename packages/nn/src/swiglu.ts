/**
 * SwiGLU gating as LLaMA's MLP uses it: silu(gate) * up, elementwise (the projections around it are matmuls).
 * Formula and error: silu's (silu.ts), times up; the gate product is folded into the pieces (even.ts), so
 * silu(gate) is never materialised: pieces 0, (0.5 g + E_b) u, g u, selected in the same final round.
 * Asserted max abs error: 2e-4 |up| + 2e-5 for gate in [-16, 16] and +-1000; domain as silu's for gate
 * (|gate| < 1010), |up| with |silu(gate) up| < 2^13.
 * Cost: 11 rounds (the pieces take 10: silu's 8 and the gate product; the narrow comparisons and b2a take 8;
 * silu then a separate product would take 11 as well but more bytes); bytes: swigluCost.
 * Paper: PUMA (arXiv 2307.12533) section 5 (LLaMA-7B); the fused form is this package's.
 */
import type { AShare, Cost, Party } from '@puma/protocol';
import { SILU } from './coefficients.ts';
import { evenActivation, evenActivationCost } from './even.ts';

export const swigluCost = (n: number): Cost => evenActivationCost(n, SILU, true);

export function swiglu(p: Party, gate: AShare, up: AShare): Promise<AShare> {
  return p.profile('swiglu', () => evenActivation(p, gate, SILU, up));
}
