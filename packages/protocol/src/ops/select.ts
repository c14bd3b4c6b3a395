/**
 * Oblivious selection: b ? x : y = y + b (x - y), with the bit times the difference computed by mulBitMany
 * (bitMul.ts: 2 rounds, exact; b2a then a ring product took 3). Several (x, y) pairs selected by the same
 * bits share the bit's sharing round.
 * Cost for k pairs of n elements: 2 rounds; words sent by party i: n_i + k (2n - n_i) (mulBitManyCost). Exact.
 */
import type { Party } from '../party.ts';
import { numel, type AShare, type BShare } from '../share.ts';
import type { Cost } from '../cost.ts';
import { mulBitMany, mulBitManyCost } from './bitMul.ts';
import { add, sub } from './linear.ts';

export const selectCost = (n: number, pairs = 1): Cost => mulBitManyCost(n, pairs);

export function selectMany(p: Party, b: BShare, pairs: ReadonlyArray<readonly [AShare, AShare]>): Promise<AShare[]> {
  return p.profile('select', async () => {
    for (const [x, y] of pairs) {
      if (numel(x) !== b.n || numel(y) !== b.n) throw new Error(`select: ${b.n} bits but operands of ${numel(x)} and ${numel(y)} elements`);
    }
    const picked = await mulBitMany(p, b, pairs.map(([x, y]) => sub(p, x, y)));
    return picked.map((d, i) => add(p, pairs[i][1], d));
  });
}

export async function select(p: Party, b: BShare, x: AShare, y: AShare): Promise<AShare> {
  const [r] = await selectMany(p, b, [[x, y]]);
  return r;
}

/** b * x for an arithmetic value x (b ? x : 0). */
export async function mulBit(p: Party, b: BShare, x: AShare): Promise<AShare> {
  const [r] = await mulBitMany(p, b, [x]);
  return r;
}

export const mulBitCost = (n: number): Cost => mulBitManyCost(n, 1);
