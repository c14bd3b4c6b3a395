/**
 * Truncation of a replicated share by 2^d in 2 rounds, through the wrap of a two-party split: one-bit-error
 * truncation after "Improved secure two-party computation from a geometric perspective" (Algorithm 4, the
 * modular wrap of a sum whose value is small), as SPU's ABY3 TruncAPr2 uses it (issue 12 cites it as ePrint 2025/200);
 * the wrap formula and the schedule below are this package's.
 *
 * Dealers rotate (dealers.ts): party c helps with chunk c. For one chunk, D is the helper and A = D + 1,
 * B = D + 2; A holds components (x_A, x_B) and B holds (x_B, x_D), so with no message at all
 *   u = x_A + x_B + 2^62 - 1 (A),   v = x_D (B),   u + v = y' = x + 2^62 - 1 (mod 2^64).
 * For |x| < 2^62, 0 <= y' < 2^63, and the wrap of the integer sum u + v is
 *   w = [u + v >= 2^64] = a OR b = a + b - a b,   a = msb(u) (A's), b = msb(v) (B's):
 * two top bits give a sum of at least 2^64, one alone a sum in [2^63, 2^64 + 2^63) that must wrap since
 * y' < 2^63, none a sum below 2^64. Then, as integers,
 *   floor(u / 2^d) + floor(v / 2^d) = floor(y' / 2^d) + w 2^(64-d) - e,   e = carry of the low d bits in {0, 1},
 * and A and B hold additive shares of floor((x - 1) / 2^d) + 1 - e, which is floor(x / 2^d) + {0, 1}:
 * A's  floor(u / 2^d) - w_A 2^(64-d) + 1 - 2^(62-d),  B's  floor(v / 2^d) - w_B 2^(64-d).
 * The product a b of A's and B's private bits, with D's correlation (round 1, all three messages at once):
 * D draws alpha, gamma_A (keys shared with A) and beta (with B) and sends B gamma_B = alpha beta - gamma_A;
 * A sends B a' = a - alpha, B sends A b' = b - beta; then A's share of a b is a b' + gamma_A and B's is
 * a' beta + gamma_B. w_A = a - (a b)_A, w_B = b - (a b)_B. Only w mod 2^d matters (it is multiplied by
 * 2^(64-d)), so these values live in Z_2^s with s = 32 when d <= 32 (one 32-bit lane on the wire, lanes.ts),
 * else s = 64. Round 2 turns A's and B's shares into replicated form (halves.ts: components of D and A from
 * keys, B's assembled by A and B from each other's masked halves).
 * Error: floor(x / 2^d) + {0, 1} with P[+1] = frac(x / 2^d) when the low bits of u are uniform (a fresh
 * sharing): the - 1 in y' makes the result exact for multiples of 2^d. Precondition |x| < 2^62, as for
 * truncate.ts; outside it the result is wrong.
 * What each party sees: A gets b' (masked by beta, under the key of D and B) and B's masked half; B gets a'
 * (alpha) and gamma_B (gamma_A), both under the key of D and A, and A's masked half; D gets nothing.
 * Cost per chunk of m elements, 2 rounds: D sends m values of Z_2^s; A and B each send m of Z_2^s and then
 * m words. With rotating dealers, per element and party at d <= 32: 9.3 bytes (the dealer truncation this
 * replaces for replicated shares sent 16; below ROTATE_FROM: 4 / 12 / 12 bytes against its 32 / 8 / 8).
 */
import type { Buf } from '@puma/backend';
import type { PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import { aShare, type AShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { dealerChunks, dealtByChunks } from '../dealers.ts';
import { replicateHalves } from './halves.ts';
import { checkTruncationBits } from './truncate.ts';
import { laneCount, packedBytes, packLanes, unpackLanes, type RingBits } from './lanes.ts';

/** Ring of the wrap's product: Z_2^32 while the truncation keeps no more than 32 bits of it. */
const wrapBits = (d: number): RingBits => (d <= 32 ? 32 : 64);


export function truncateCost(n: number, d = 18): Cost {
  checkTruncationBits(d);
  const s = wrapBits(d);
  const bytes: [number, number, number] = [0, 0, 0];
  dealerChunks(n).forEach((m, dealer) => {
    if (m === 0) return;
    const lanes = packedBytes(laneCount([{ count: m, bits: s }]));
    bytes[dealer] += lanes;
    for (const other of [(dealer + 1) % 3, (dealer + 2) % 3]) bytes[other] += lanes + m * WORD;
  });
  return cost(2, ...bytes);
}

async function chunk(p: Party, x: AShare, d: number, dealer: PartyId): Promise<AShare> {
  const be = p.backend;
  const n = x.s0.length;
  const s = wrapBits(d);
  const lanes = [{ count: n, bits: s }];
  const tag = p.nextTag();
  const A = ((dealer + 1) % 3) as PartyId;
  const B = ((dealer + 2) % 3) as PartyId;
  const K = 1n << BigInt(64 - d);

  let twoOfTwo: Buf | null = null;
  if (p.id === dealer) {
    const alpha = p.prgWith(A, tag, n, 1);
    const gammaA = p.prgWith(A, tag, n, 2);
    const beta = p.prgWith(B, tag, n, 1);
    const gammaB = be.sub(be.mul(alpha, beta), gammaA);
    const msg = packLanes([{ words: await be.read(gammaB), bits: s }]);
    p.drop(alpha, gammaA, beta, gammaB);
    await p.exchange(tag, [[B, msg]], []);
  } else if (p.id === A) {
    const u = be.addScalar(be.add(x.s0, x.s1), (1n << 62n) - 1n);
    const a = be.shrLogical(u, 63);
    const alpha = p.prgWith(dealer, tag, n, 1);
    const aMasked = be.sub(a, alpha);
    const [fromB] = await p.exchange(tag, [[B, packLanes([{ words: await be.read(aMasked), bits: s }])]], [B]);
    const bMasked = be.upload(unpackLanes(fromB, lanes)[0]);
    const ab = be.add(be.mul(a, bMasked), p.prgWith(dealer, tag, n, 2));
    const w = be.sub(a, ab);
    twoOfTwo = be.addScalar(be.sub(be.shrLogical(u, d), be.mulScalar(w, K)), BigInt.asUintN(64, 1n - (1n << BigInt(62 - d))));
    p.drop(u, a, alpha, aMasked, bMasked, ab, w);
  } else {
    const v = x.s1;
    const b = be.shrLogical(v, 63);
    const beta = p.prgWith(dealer, tag, n, 1);
    const bMasked = be.sub(b, beta);
    const [fromA, fromD] = await p.exchange(tag, [[A, packLanes([{ words: await be.read(bMasked), bits: s }])]], [A, dealer]);
    const aMasked = be.upload(unpackLanes(fromA, lanes)[0]);
    const gammaB = be.upload(unpackLanes(fromD, lanes)[0]);
    const ab = be.add(be.mul(aMasked, beta), gammaB);
    const w = be.sub(b, ab);
    twoOfTwo = be.sub(be.shrLogical(v, d), be.mulScalar(w, K));
    p.drop(b, beta, bMasked, aMasked, gammaB, ab, w);
  }

  return replicateHalves(p, twoOfTwo, n, dealer, [n]);
}

/** Truncates a replicated share by `bits` (default: the session's fraction bits); |x| < 2^62. */
export function truncate(p: Party, x: AShare, bits = p.fracBits): Promise<AShare> {
  checkTruncationBits(bits);
  const be = p.backend;
  return p.profile('truncate', () => dealtByChunks(p, x.s0.length, x.shape, async (q, start, count, dealer) => {
    const part = aShare([count], be.slice(x.s0, start, count), be.slice(x.s1, start, count));
    const out = await chunk(q, part, bits, dealer);
    q.drop(part.s0, part.s1);
    return out;
  }));
}
