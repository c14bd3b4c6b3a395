/**
 * SwiGLU gating as LLaMA's MLP uses it: silu(gate) * up, elementwise (the projections around it are matmuls).
 * Formula and error: silu's (silu.ts), times up; the gate product is folded into the selection
 * (piecewise.ts selectPiecesTimes): each comparison bit times up is one bit-times-value product right after
 * the comparisons, then (g up - sum_k ([g < t_k] up) (P_k - P_{k-1})) is one fused product sum truncated once,
 * so silu(gate) is never materialised and up meets the pieces in the same round.
 * Asserted max abs error: 2e-4 |up| + 2e-5 for gate in [-16, 16] and +-1000 (measured within 9.1e-5 |up| +
 * 2e-5); domain as silu's for gate (|gate| < 1010), |up| with |silu(gate) up| < 2^13.
 * Cost: 10 rounds by the circuit's comparisons (6): they and bit times up (2) run beside silu's polynomials (5:
 * masked chains from x, even.ts), then the fused truncation (2); 7 where the four comparisons go by a dealer's
 * tables (2 rounds; piecewise.ts gatedByTables: up to about 1,600 gates, where the tables' extra bytes and CPU cost
 * less than three LAN rounds: stories260K's decoding steps, 172 gates; not LLaMA-7B's 11,008). Bytes per element
 * and party (swigluCost): by the circuit 344 at 4,096 gates (bench nn; 355 with v as a separate product), 339 at
 * 200,000; by tables party 0, which deals every chunk of a call this small, sends 714.5 at 172 gates, the
 * others 182.1 (swiglu.test.ts).
 * Paper: PUMA (arXiv 2307.12533) section 5 (LLaMA-7B); the fused form is this package's.
 */
import type { AShare, Cost, Party } from '@puma/protocol';
import { SILU } from './coefficients.ts';
import { evenActivation, evenActivationCost } from './even.ts';

export const swigluCost = (n: number): Cost => evenActivationCost(n, SILU, true);

export function swiglu(p: Party, gate: AShare, up: AShare): Promise<AShare> {
  return p.profile('swiglu', () => evenActivation(p, gate, SILU, up));
}
