/**
 * Oblivious selection: b ? x : y = y + b (x - y), with b injected into the arithmetic domain (b2a) and one
 * ring multiplication by the 0/1 value (exact, no truncation). Several (x, y) pairs selected by the same
 * bits share one b2a and one multiplication round.
 * Cost for k pairs of n elements: 3 rounds; words sent: party 0 2n + kn, parties 1 and 2 n + kn. Exact.
 */
import type { Party } from '../party.ts';
import { aShare, numel, type AShare, type BShare } from '../share.ts';
import { seq, type Cost } from '../cost.ts';
import { b2a, b2aCost } from './b2a.ts';
import { add, concatFlat, reshape, splitFlat, sub } from './linear.ts';
import { mulRaw, mulRawCost } from './mul.ts';

export const selectCost = (n: number, pairs = 1): Cost => seq(b2aCost(n), mulRawCost(n * pairs));

export function selectMany(p: Party, b: BShare, pairs: ReadonlyArray<readonly [AShare, AShare]>): Promise<AShare[]> {
  return p.profile('select', async () => {
    for (const [x, y] of pairs) {
      if (numel(x) !== b.n || numel(y) !== b.n) throw new Error(`select: ${b.n} bits but operands of ${numel(x)} and ${numel(y)} elements`);
    }
    const bits = await b2a(p, b);
    const be = p.backend;
    const k = pairs.length;
    const bitsK = aShare([b.n * k], be.tile(bits.s0, k), be.tile(bits.s1, k));
    const diffs = concatFlat(p, pairs.map(([x, y]) => sub(p, x, y)));
    const prod = await mulRaw(p, bitsK, diffs);
    const parts = splitFlat(p, prod, pairs.map(([x]) => x.shape));
    return parts.map((d, i) => add(p, pairs[i][1], d));
  });
}

export async function select(p: Party, b: BShare, x: AShare, y: AShare): Promise<AShare> {
  const [r] = await selectMany(p, b, [[x, y]]);
  return r;
}

/** b * x for an arithmetic value x (b ? x : 0). */
export function mulBit(p: Party, b: BShare, x: AShare): Promise<AShare> {
  return p.profile('mulBit', async () => mulRaw(p, reshape(await b2a(p, b), x.shape), x));
}

export const mulBitCost = (n: number): Cost => seq(b2aCost(n), mulRawCost(n));

