/**
 * tanh(x) (BERT's pooler). tanh is odd: tanh(x) = x E(x^2) with E even-friendly, and saturates to +-1.
 * Three pieces: -1 for x < -4; 1 for x > 4; on [-4, 4] x E(v), v = x^2/8 - 1, E of degree 8 fitted minimax
 * (scripts/fit.ts, weighted by x) with E(1) = 1/4 so both joints are continuous.
 * Float64 max abs error over [-16, 16]: 8.2e-4 (the tail 1 - tanh(4) = 6.7e-4 is part of it).
 * Asserted: 2e-3 over [-16, 16] (measured 8.3e-4). Domain: any x.
 * Cost: 11 rounds: v (2), the polynomial (6) and x E (2) fit inside the comparisons' 10 rounds, then one
 * selection round. Bytes per element per party (P0 / P1 / P2): 300.3 / 188.3 / 188.3.
 * Paper: not in PUMA's list (PUMA evaluates BERT's pooler tanh with SPU's generic tanh); the construction
 * follows this package's GeLU (even.ts).
 */
import { publicShare, seq, type AShare, type Cost, type Party } from '@puma/protocol';
import { encodeFixedScalar } from '@puma/ring';
import { TANH } from './coefficients.ts';
import { mulTrunc, mulTruncCost } from './fused.ts';
import { squareVariable } from './even.ts';
import { polyCost, polyEval } from './poly.ts';
import { selectPieces, selectPiecesCost } from './piecewise.ts';

/** Fraction bits of E before the product with x: E <= 1, so x E stays far below 2^62 for |x| <= 4. */
const E_SCALE = 30;

export const tanhCost = (n: number): Cost => selectPiecesCost(n, 2, seq(mulTruncCost(n), polyCost(n, TANH.coeffs.length - 1), mulTruncCost(n)));

export function tanh(p: Party, x: AShare): Promise<AShare> {
  const f = p.fracBits;
  const T = TANH.T;
  return p.profile('tanh', () =>
    selectPieces(p, x, [-T, T], async (q) => {
      const v = await squareVariable(q, x, T);
      const [e] = await polyEval(q, v, [TANH.coeffs], { bound: 1, outScale: E_SCALE });
      const one = encodeFixedScalar(1, f);
      return [publicShare(q, x.shape, BigInt.asUintN(64, -one)), await mulTrunc(q, x, e, E_SCALE), publicShare(q, x.shape, one)];
    }),
  );
}
