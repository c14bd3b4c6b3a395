/**
 * 1/x, after PUMA (arXiv 2307.12533) section 4: normalise x into c in [0.5, 1) with its highest set bit,
 * approximate 1/c, scale back. PUMA/SPU use Goldschmidt from 2.9142 - 2c (2 iterations); here the initial
 * approximation is the final one, a degree-4 minimax polynomial (relative error 2.97e-4), and the scaling
 * 2^-(k+1) is a public-weighted sum of comparison bits (see inverse.ts for the construction).
 * Input domain: lo <= log2|x| < hi (defaults -10, 17); |x| < 2^lo gives exactly 0. `positive: true` is the
 * fast path for x > 0 (softmax denominators): half the comparisons, no sign handling.
 * Asserted relative error: 1e-3 on [1, 2^16] and on the signed default domain (measured 3.0e-4), given enough
 * output fraction bits to represent 1/x (`outScale`; the default, the session's 18 bits, holds 1/2^16 to 4 ulp).
 * Cost: 12 rounds for any range (PUMA/SPU: normalisation plus Goldschmidt, more; 18 here before the
 * polynomial ran per octave beside the comparisons, inverse.ts); bytes per element per party at 4096
 * elements (dealers rotating), per octave (twice signed) a comparison, a b2a word and three truncation words:
 * 5392.1 signed on the default range, 2706.7 positive, 1712.1 positive on [1, 2^17) (2288.1, 1186.7 and
 * 778.8 before). Meant for one value per row (softmax), where rounds count and bytes are small.
 */
import type { AShare, Cost, Party } from '@puma/protocol';
import { inverse, inverseCost, type InverseOptions } from './inverse.ts';

export interface ReciprocalOptions {
  lo?: number;
  hi?: number;
  /** x is known to be positive: skips the negative-range comparisons. */
  positive?: boolean;
  /** Fraction bits of the result (default: the session's). */
  outScale?: number;
}

export const RECIPROCAL_RANGE = { lo: -10, hi: 17 } as const;

function options(fracBits: number, o: ReciprocalOptions): InverseOptions {
  const lo = o.lo ?? RECIPROCAL_RANGE.lo;
  return { kind: 'reciprocal', lo, hi: o.hi ?? RECIPROCAL_RANGE.hi, signed: !o.positive, xScale: fracBits, outScale: o.outScale ?? fracBits, outBound: 2 ** -lo };
}

export const reciprocalCost = (n: number, o: ReciprocalOptions = {}, fracBits = 18): Cost => inverseCost(n, options(fracBits, o));

export function reciprocal(p: Party, x: AShare, o: ReciprocalOptions = {}): Promise<AShare> {
  return p.profile('reciprocal', () => inverse(p, x, options(p.fracBits, o)));
}
