/**
 * a / b: a times the reciprocal of b, with the multiplication by a folded into the reciprocal's last steps
 * (F = a 2^-(k+1) is formed while 1/c is selected; inverse.ts): 14 rounds.
 * b may have the shape of a, or one axis less (one divisor per row of a, broadcast over a's last axis).
 * Input domain: lo <= log2|b| < hi (defaults -10, 17; `positive` for b > 0), |a / b| <= outBound (default
 * 2^20); |b| < 2^lo gives 0. Asserted error: 1e-3 relative plus 2^-16 absolute (measured 3.0e-4 relative).
 * Cost: 14 rounds; bytes as reciprocal's per element of b, plus 2 mulTrunc per element of a: elementwise on
 * the default signed range 5421.4 per element and party at 4096 elements (2309.4 and 18 rounds before the
 * lanes; per row of a, as in softmax, the per-element part is the two mulTrunc).
 * Paper: PUMA (arXiv 2307.12533) section 4 (division as multiplication by the reciprocal).
 */
import type { AShare, Cost, Party } from '@puma/protocol';
import { inverse, inverseCost, type InverseOptions } from './inverse.ts';
import { RECIPROCAL_RANGE } from './reciprocal.ts';

export interface DivideOptions {
  lo?: number;
  hi?: number;
  positive?: boolean;
  outBound?: number;
}

function options(fracBits: number, o: DivideOptions): InverseOptions {
  return {
    kind: 'reciprocal',
    lo: o.lo ?? RECIPROCAL_RANGE.lo,
    hi: o.hi ?? RECIPROCAL_RANGE.hi,
    signed: !o.positive,
    xScale: fracBits,
    mScale: fracBits,
    outScale: fracBits,
    outBound: o.outBound ?? 2 ** 20,
  };
}

/** Declared cost for nb divisors and na dividends. */
export const divideCost = (na: number, nb: number, o: DivideOptions = {}, fracBits = 18): Cost => inverseCost(nb, options(fracBits, o), na);

export function divide(p: Party, a: AShare, b: AShare, o: DivideOptions = {}): Promise<AShare> {
  return p.profile('divide', () => inverse(p, b, options(p.fracBits, o), { m: a, broadcast: a.shape.length === b.shape.length + 1 }));
}
