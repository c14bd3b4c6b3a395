/**
 * Comparison: [x < y] = msb(x - y), valid while |x - y| < 2^63 (always true for fixed-point values encoded
 * within the saturating range). Comparisons with public constants subtract the constant locally.
 * Cost: that of msb (8 rounds, 241 bits per element per party). Exact.
 */
import type { Party } from '../party.ts';
import type { AShare, BShare } from '../share.ts';
import type { Cost } from '../cost.ts';
import { rsubPublic, sub, subPublic } from './linear.ts';
import { msb, msbCost } from './msb.ts';

export const lessThanCost = (n: number): Cost => msbCost(n);

export function lessThan(p: Party, x: AShare, y: AShare): Promise<BShare> {
  return p.profile('lessThan', () => msb(p, sub(p, x, y)));
}

/** [x < c] for public reals c. */
export function lessThanPublic(p: Party, x: AShare, c: number | ArrayLike<number>): Promise<BShare> {
  return p.profile('lessThan', () => msb(p, subPublic(p, x, c)));
}

/** [x > c] for public reals c. */
export function greaterThanPublic(p: Party, x: AShare, c: number | ArrayLike<number>): Promise<BShare> {
  return p.profile('lessThan', () => msb(p, rsubPublic(p, c, x)));
}
