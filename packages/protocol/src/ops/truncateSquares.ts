/**
 * A truncation (truncate.ts) whose first round also gives each row's sum of squares of the result, as every
 * party's masked 3-of-3 term, one round before the result itself is replicated. A norm of a residual sum
 * (nn norm-matmul.ts on an opened truncation) starts its row scale from that term while the resharing runs.
 * Formula (per element, for a chunk dealt by D to A and B; truncate.ts's notation): after the first round A and
 * B hold additive halves of
 *   y = P + beta m - h,   P = truncationOpening's public part,  beta = 2^(63-d) (1 - 2 msb(c)),
 * with P and beta public to both (from c = y + r) and m = msb(r), h = r' dealt as additive halves. Since m is
 * 0 or 1,
 *   y^2 = P^2 + (beta^2 + 2 P beta) m + h^2 - 2 P h - 2 beta (m h),
 * linear in the halves of m and h and in halves of h^2 and m h, which D deals beside them (two words more per
 * element to B; A's halves come from the key it shares with D). Each party sums its halves over a row's
 * elements (D's chunk adds 0) and masks the sums with a fresh zero sharing: a 3-of-3 term of sum_j y_j^2 at
 * twice the result's fraction bits, exact in the ring (the result's own y, its stochastic last bit included).
 * After Escudero et al. (CRYPTO 2020) as truncate.ts, whose first round (openTruncation) this is, with the two
 * extra dealt words; the squares are this package's.
 * Cost: 2 rounds as truncateProduct, the squares after the first. Bytes per chunk of m elements: D sends 6m
 * words (4m in truncate.ts), A and B 2m each (their terms, then the resharing). Error: the truncation's (at
 * most 1 ulp); the squares are exact for the result. Domain: |x| < 2^62 before the shift, and the row sums of
 * squares below 2^63 at twice the result's fraction bits.
 */
import type { Buf } from '@puma/backend';
import type { PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import { aShare, type AShare } from '../share.ts';
import { cost, seq, WORD, type Cost } from '../cost.ts';
import { dealerRanges } from '../dealers.ts';
import { replicateHalves } from './halves.ts';
import { checkTruncationBits, openTruncation, type OpenedTruncation } from './truncate.ts';

/** A truncation after its first round: the result's halves per dealer chunk, and the rows' sums of squares. */
export interface SquaresOpening {
  shape: readonly number[];
  chunks: Array<{ dealer: PartyId; count: number; half: Buf | null }>;
  /** This party's masked 3-of-3 term of each row's sum of squares (rows = all axes but the last), and the tag its resharing takes. */
  squares: { z: Buf; shape: number[]; tag: string };
}

/** The first round's cost for n elements: truncate.ts's, with two words more per element from each chunk's dealer. */
export function truncateSquaresOpenCost(n: number): Cost {
  const ranges = dealerRanges(n);
  const words = ([0, 1, 2] as const).map((i) => ranges.reduce((s, r) => s + (r.dealer === i ? 6 * r.count : r.count), 0));
  return cost(1, words[0] * WORD, words[1] * WORD, words[2] * WORD);
}

/** The second round's cost (the halves reshared: A and B of each chunk send one word per element). */
export function truncateSquaresCloseCost(n: number): Cost {
  const ranges = dealerRanges(n);
  const words = ([0, 1, 2] as const).map((i) => ranges.reduce((s, r) => s + (r.dealer === i ? 0 : r.count), 0));
  return cost(1, words[0] * WORD, words[1] * WORD, words[2] * WORD);
}

export const truncateSquaresCost = (n: number): Cost => seq(truncateSquaresOpenCost(n), truncateSquaresCloseCost(n));

/** One chunk's first round: this party's half of y and of each element's y^2 (null and zeros for the dealer). */
async function openChunk(p: Party, z: Buf, d: number, dealer: PartyId): Promise<{ half: Buf | null; squares: Buf }> {
  const be = p.backend;
  const opened = await openTruncation(p, z, d, dealer, { parts: true, extras: { count: 2, deal: (m, h) => [be.mul(h, h), be.mul(m, h)] } });
  if (!opened) return { half: null, squares: be.zeros(z.length) };
  const { pub, beta, m, h, extras: [hh, mh] } = opened.parts as NonNullable<OpenedTruncation['parts']>;
  const isA = p.id === (dealer + 1) % 3;
  // y^2's half: (beta^2 + 2 P beta) m + h^2 - 2 P h - 2 beta (m h), plus P^2 on A's.
  const twoP = be.mulScalar(pub, 2n);
  const twoBeta = be.mulScalar(beta, 2n);
  const betaSq = be.mul(beta, beta);
  const twoPBeta = be.mul(twoP, beta);
  const mCoef = be.add(betaSq, twoPBeta);
  const mTerm = be.mul(mCoef, m);
  const hTerm = be.mul(twoP, h);
  const mhTerm = be.mul(twoBeta, mh);
  const plus = be.add(mTerm, hh);
  const minus = be.add(hTerm, mhTerm);
  const linear = be.sub(plus, minus);
  const pSq = isA ? be.mul(pub, pub) : null;
  const squares = pSq ? be.add(linear, pSq) : linear;
  p.drop(pub, beta, m, h, hh, mh, twoP, twoBeta, betaSq, twoPBeta, mCoef, mTerm, hTerm, mhTerm, plus, minus);
  if (pSq) p.drop(linear, pSq);
  return { half: opened.half, squares };
}

/**
 * First round of the truncation by `bits` of z (this party's 3-of-3 term, already masked by a zero sharing) of
 * shape [..., cols]: the halves, and each row's sum of squares of the result as a masked term.
 */
export async function truncateOpenSquares(p: Party, z: Buf, shape: readonly number[], bits = p.fracBits): Promise<SquaresOpening> {
  checkTruncationBits(bits);
  const cols = shape[shape.length - 1];
  if (shape.length < 1 || !cols || z.length % cols !== 0) throw new Error(`truncateSquares: needs a non-empty last axis, got [${shape.join(', ')}] for ${z.length} elements`);
  const be = p.backend;
  return p.profile('truncateSquares', async () => {
    const ranges = dealerRanges(z.length);
    const opened = await p.parallel(...ranges.map((r) => async (q: Party) => {
      const part = be.slice(z, r.start, r.count);
      const out = await openChunk(q, part, bits, r.dealer);
      q.drop(part);
      return out;
    }));
    const tag = p.nextTag();
    const rows = z.length / cols;
    const all = opened.length === 1 ? opened[0].squares : be.concat(opened.map((o) => o.squares));
    const sums = be.sumRows(all, rows, cols);
    const zero = p.zeroShare(tag, rows);
    const zRows = be.add(sums, zero);
    p.drop(sums, zero, ...opened.map((o) => o.squares));
    if (opened.length > 1) p.drop(all);
    return { shape, chunks: ranges.map((r, i) => ({ dealer: r.dealer, count: r.count, half: opened[i].half })), squares: { z: zRows, shape: shape.slice(0, -1), tag } };
  });
}

/** Second round: the result replicated (its halves reshared, as truncate.ts's last round). */
export function truncateCloseSquares(p: Party, o: SquaresOpening): Promise<AShare> {
  const be = p.backend;
  return p.profile('truncateSquares', async () => {
    const parts = await p.parallel(...o.chunks.map((c) => (q: Party) => replicateHalves(q, c.half, c.count, c.dealer, [c.count])));
    if (parts.length === 1) return aShare(o.shape, parts[0].s0, parts[0].s1);
    return aShare(o.shape, be.concat(parts.map((s) => s.s0)), be.concat(parts.map((s) => s.s1)));
  });
}
