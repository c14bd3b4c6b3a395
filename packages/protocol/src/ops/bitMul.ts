/**
 * Bit times value: b * x_k for one boolean bit b and k arithmetic values, in 2 rounds (b2a then a ring product
 * takes 3). After ABY3 section 5.4's bit injection, with the product folded into the second round.
 * For a dealer D with A = D + 1 and B = D + 2 (mod 3): D knows t = b_D ^ b_A; A and B both know c = b_B;
 * b = t ^ c = t + c - 2tc, so b x = t (x - 2w) + w with w = c x.
 *  Round 1, one exchange: D shares t arithmetically (components D: c0 from the key it shares with B, A:
 *    c1 = t - c0 sent to A, B: 0); A and B share w = c x, both knowing c and between them every component of
 *    x: component B of w is c x_B - alpha - beta (both compute it), A sends c x_A + alpha and B sends
 *    c x_D + beta to D, alpha and beta from the key A and B share (D lacks it, so what it gets is masked).
 *  Round 2: the ring product t (x - 2w) as in mul.ts (3-of-3 terms masked by a zero sharing, reshared), plus w.
 * The dealer rotates as in truncation (dealers.ts): party i deals chunk n_i of the elements.
 * Cost: 2 rounds; words sent by party i: n_i + k (2n - n_i) (its chunk's c1, the w components it sends for
 * the other chunks, then every product): 2n for one value, whoever deals. Exact (ring arithmetic only).
 */
import type { Buf } from '@puma/backend';
import type { PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import { aShare, numel, type AShare, type BShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { localProduct, reshare } from './mul.ts';
import { concatFlat } from './linear.ts';
import { dealerChunks, dealerRanges } from '../dealers.ts';

export const mulBitManyCost = (n: number, values = 1): Cost => {
  const sizes = dealerChunks(n);
  const words = (i: number) => sizes[i] + values * (2 * n - sizes[i]);
  return cost(2, words(0) * WORD, words(1) * WORD, words(2) * WORD);
};

/** One dealer's chunk: bits (this party's two components as 0/1 words) and the k values concatenated ([k * n]). */
async function chunkProduct(p: Party, s0: Buf, s1: Buf, xs: AShare, n: number, k: number, dealer: PartyId): Promise<AShare> {
  const be = p.backend;
  const A = ((dealer + 1) % 3) as PartyId;
  const B = ((dealer + 2) % 3) as PartyId;
  const tag = p.nextTag();
  let t: [Buf, Buf];
  let w: [Buf, Buf];
  if (p.id === dealer) {
    const c0 = p.prgWith(B, tag, n, 1);
    const c1 = be.sub(be.xor(s0, s1), c0);
    const [wA, wD] = await p.exchange(tag, [[A, c1]], [A, B]);
    t = [c0, c1];
    w = [be.upload(wD), be.upload(wA)];
  } else {
    // A holds (b_A, b_B) and (x_A, x_B); B holds (b_B, b_D) and (x_B, x_D).
    const isA = p.id === A;
    const c = be.tile(isA ? s1 : s0, k);
    const peer = isA ? B : A;
    const alpha = p.prgWith(peer, tag, k * n, 2);
    const beta = p.prgWith(peer, tag, k * n, 3);
    const wB = be.sub(be.mul(c, isA ? xs.s1 : xs.s0), be.add(alpha, beta));
    const sent = be.add(be.mul(c, isA ? xs.s0 : xs.s1), isA ? alpha : beta);
    const [c1] = await p.exchange(tag, [[dealer, sent]], isA ? [dealer] : []);
    t = isA ? [be.upload(c1), be.zeros(n)] : [be.zeros(n), p.prgWith(dealer, tag, n, 1)];
    w = isA ? [sent, wB] : [wB, sent];
  }
  const tk = aShare([k * n], be.tile(t[0], k), be.tile(t[1], k));
  const w2 = [be.mulScalar(w[0], 2n), be.mulScalar(w[1], 2n)];
  const rest = aShare([k * n], be.sub(xs.s0, w2[0]), be.sub(xs.s1, w2[1]));
  const tag2 = p.nextTag();
  const term = localProduct(p, tk, rest);
  const alpha = p.zeroShare(tag2, k * n);
  const z = be.add(term, alpha);
  // Temporaries are released as soon as they are used (Party.drop); results are unchanged.
  p.drop(...t, ...w2, tk.s0, tk.s1, rest.s0, rest.s1, term, alpha);
  const prod = await reshare(p, z, [k * n], tag2);
  const out = aShare([k * n], be.add(prod.s0, w[0]), be.add(prod.s1, w[1]));
  p.drop(prod.s0, prod.s1, ...w);
  return out;
}

/** [b * x for x of xs]: every x has b.n elements (any shape). */
export function mulBitMany(p: Party, b: BShare, xs: readonly AShare[]): Promise<AShare[]> {
  if (b.planes !== 1) throw new Error(`mulBitMany takes one bit plane, got ${b.planes}`);
  if (xs.length === 0) throw new Error('mulBitMany: no values');
  for (const x of xs) if (numel(x) !== b.n) throw new Error(`mulBitMany: ${b.n} bits but a value of ${numel(x)} elements`);
  return p.profile('mulBit', async () => {
    const be = p.backend;
    const n = b.n;
    const k = xs.length;
    const s0 = be.fromBitPlanes(b.s0, n, 1);
    const s1 = be.fromBitPlanes(b.s1, n, 1);
    // Each dealer's chunk takes the same elements of every value (dealtByChunks would cut the k*n words).
    const ranges = dealerRanges(n);
    const parts = await p.parallel(...ranges.map(({ dealer: c, start: e0, count: m }) => async (q: Party) => {
      const pieces = xs.map((x) => aShare([m], be.slice(x.s0, e0, m), be.slice(x.s1, e0, m)));
      const vals = concatFlat(q, pieces);
      const bits = [be.slice(s0, e0, m), be.slice(s1, e0, m)];
      q.drop(...pieces.flatMap((v) => [v.s0, v.s1]));
      const r = await chunkProduct(q, bits[0], bits[1], vals, m, k, c);
      q.drop(...bits, vals.s0, vals.s1);
      return r;
    }));
    p.drop(s0, s1);
    // Chunk results are value-major ([k * m]); reassemble each value in element order.
    const value = (j: number, side: 's0' | 's1') => {
      const slices = parts.map((r, i) => be.slice(r[side], j * ranges[i].count, ranges[i].count));
      const whole = be.concat(slices);
      p.drop(...slices);
      return whole;
    };
    const out = xs.map((x, j) => aShare(x.shape, value(j, 's0'), value(j, 's1')));
    p.drop(...parts.flatMap((r) => [r.s0, r.s1]));
    return out;
  });
}
