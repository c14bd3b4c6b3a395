/**
 * 1/sqrt(x) for x > 0, after PUMA/SPU's rsqrt (arXiv 2307.12533 section 4, LayerNorm): normalise with the
 * highest set bit k to c = x 2^-(k+1) in [0.5, 1), approximate 1/sqrt(c) by a degree-4 minimax polynomial
 * (relative error 7.4e-5), and multiply by 2^-(k+1)/2. The odd-exponent compensation SPU does with an extra
 * bit is unnecessary here: 2^-(k+1)/2 is just another public weight per one-hot position (inverse.ts).
 * Input domain: lo <= log2 x < hi (defaults -10, 17); x < 2^lo gives exactly 0.
 * The polynomial runs for every candidate octave beside the comparisons, which then select (inverse.ts).
 * Asserted relative error: 1e-3 on [2^-10, 2^16] (measured 7.9e-5) given enough output fraction bits.
 * Cost: 12 rounds (18 before the lanes); bytes per element per party, per octave of the range: a comparison
 * at 30.1 bytes, a b2a word and three mulTrunc or truncation words: 2706.7 each on the default range at
 * 4096 elements (dealers rotating), 1186.7 before. Meant for one value per row (the norms), where rounds
 * count and bytes are small next to the row's.
 */
import type { AShare, Cost, Party } from '@puma/protocol';
import { ceilLog2 } from './fixed.ts';
import { inverse, inverseCost, type InverseOptions } from './inverse.ts';

export interface RsqrtOptions {
  lo?: number;
  hi?: number;
  outScale?: number;
}

export const RSQRT_RANGE = { lo: -10, hi: 17 } as const;

function options(fracBits: number, o: RsqrtOptions): InverseOptions {
  const lo = o.lo ?? RSQRT_RANGE.lo;
  return { kind: 'rsqrt', lo, hi: o.hi ?? RSQRT_RANGE.hi, signed: false, xScale: fracBits, outScale: o.outScale ?? fracBits, outBound: 2 ** Math.ceil(-lo / 2) };
}

export const rsqrtCost = (n: number, o: RsqrtOptions = {}, fracBits = 18): Cost => inverseCost(n, options(fracBits, o));

export function rsqrt(p: Party, x: AShare, o: RsqrtOptions = {}): Promise<AShare> {
  return p.profile('rsqrt', () => inverse(p, x, options(p.fracBits, o)));
}

/** Exported for sqrt: the bound 2^ceil(hi/2) of sqrt(x) on the range. */
export function sqrtBound(hi: number): number {
  return 2 ** ceilLog2(2 ** (hi / 2));
}
