/**
 * sqrt(x) = x / sqrt(x) for x >= 0: the rsqrt construction (rsqrt.ts) with x itself as the multiplicand, so
 * it costs 14 rounds (rsqrt's selection, then x times 2^-(k+1)/2 and times Q). x = 0 (and anything below
 * 2^lo) gives exactly 0.
 * Input domain: x = 0 or lo <= log2 x < hi (defaults -10, 17). Asserted error: 1e-3 relative plus 2^-16
 * absolute (measured 1.7e-4 relative).
 * Cost: 14 rounds; bytes per element per party 2736.0 on the default range at 4096 elements (rsqrt's lanes
 * and comparisons plus two mulTrunc; 1208.0 and 18 rounds before the lanes).
 */
import type { AShare, Cost, Party } from '@puma/protocol';
import { inverse, inverseCost, type InverseOptions } from './inverse.ts';
import { RSQRT_RANGE, sqrtBound, type RsqrtOptions } from './rsqrt.ts';

export type SqrtOptions = Omit<RsqrtOptions, 'outScale'>;

function options(fracBits: number, o: SqrtOptions): InverseOptions {
  const hi = o.hi ?? RSQRT_RANGE.hi;
  return { kind: 'rsqrt', lo: o.lo ?? RSQRT_RANGE.lo, hi, signed: false, xScale: fracBits, mScale: fracBits, outScale: fracBits, outBound: sqrtBound(hi) };
}

export const sqrtCost = (n: number, o: SqrtOptions = {}, fracBits = 18): Cost => inverseCost(n, options(fracBits, o));

export function sqrt(p: Party, x: AShare, o: SqrtOptions = {}): Promise<AShare> {
  return p.profile('sqrt', () => inverse(p, x, options(p.fracBits, o), { m: x, broadcast: false }));
}
