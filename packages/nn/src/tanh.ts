/**
 * tanh(x) (BERT's pooler). tanh is odd: tanh(x) = x E(x^2) with E even-friendly, and saturates to +-1.
 * Three pieces: -1 for x < -4; 1 for x > 4; on [-4, 4] x E(v), v = x^2/8 - 1, E of degree 8 fitted minimax
 * (scripts/fit.ts, weighted by x) with E(1) = 1/4 so both joints are continuous.
 * Float64 max abs error over [-16, 16]: 8.2e-4 (the tail 1 - tanh(4) = 6.7e-4 is part of it).
 * Asserted: 2e-3 over [-16, 16], the selection bands past +-4 and +-1000 (measured 8.3e-4 outside the
 * bands, 1.5e-3 in [4, 4 + 2^-6), where the narrow comparison may keep the polynomial a little past 4).
 * Domain: |x| < 1020 (the narrow comparisons' window, piecewise.ts; outside it the result is arbitrary).
 * Cost: 9 rounds: v (2), the polynomial (4: a masked chain, poly.ts) and x E (2), then one selection round; the
 * narrow comparisons and b2a (8) run alongside. Bytes: two narrow comparisons (14.8 per element), b2a, products (tanhCost).
 * Paper: not in PUMA's list (PUMA evaluates BERT's pooler tanh with SPU's generic tanh); the construction
 * follows this package's GeLU (even.ts).
 */
import { numel, publicShare, seq, type AShare, type Cost, type Party } from '@puma/protocol';
import { encodeFixedScalar } from '@puma/ring';
import { TANH } from './coefficients.ts';
import { mulTrunc, mulTruncCost } from './fused.ts';
import { squareVariable } from './even.ts';
import { polyCost, polyEval } from './poly.ts';
import { selectPieces, selectPiecesCost } from './piecewise.ts';

/** Fraction bits of E before the product with x: E <= 1, so x E stays far below 2^62 for |x| <= 4. */
const E_SCALE = 30;

const piecesCost = (n: number): Cost => seq(mulTruncCost(n), polyCost(n, TANH.coeffs.length - 1), mulTruncCost(n));

export const tanhCost = (n: number): Cost => selectPiecesCost(n, 2, piecesCost(n));

export function tanh(p: Party, x: AShare): Promise<AShare> {
  const f = p.fracBits;
  const T = TANH.T;
  return p.profile('tanh', () =>
    selectPieces(p, x, [-T, T], async (q) => {
      const v = await squareVariable(q, x, T);
      const [e] = await polyEval(q, v, [TANH.coeffs], { bound: 1, outScale: E_SCALE });
      const one = encodeFixedScalar(1, f);
      return [publicShare(q, x.shape, BigInt.asUintN(64, -one)), await mulTrunc(q, x, e, E_SCALE), publicShare(q, x.shape, one)];
    }, piecesCost(numel(x)).rounds),
  );
}
