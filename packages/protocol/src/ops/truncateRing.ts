/**
 * Truncation of a fused product that changes rings: input in Z_2^k (k = inBits, 32 or 64), output in Z_2^l
 * (l = outBits, 32 or 64). Downcasting and upcasting as in ring casting (Ditto, ICML 2024, section 4; Nimbus,
 * NeurIPS 2024): a share of Z_2^64 reduces locally to Z_2^32; going up is fused into this truncation, whose
 * dealer material lives in the output ring. The truncation itself is truncate.ts's TruncPr with the mask's MSB
 * shared (Escudero et al., CRYPTO 2020; Dalskov, Escudero, Keller, arXiv 1910.12435, section 3.2.2), run with
 * modulus 2^k. Values of Z_2^32 sit in 64-bit backend words with the upper half ignored, and travel as 32-bit
 * lanes (lanes.ts).
 *
 * Formula. Input x in Z_2^k with |x| < 2^(k-2) (precondition), y = x + 2^(k-2), so 0 <= y < 2^(k-1). The dealer
 * D draws r (uniform mod 2^k), A and B open c = y + r mod 2^k. Write c = 2^(k-1) c_h + c_l and
 * r = 2^(k-1) r_h + r_l (c_l, r_l < 2^(k-1)). Since y + r_l < 2^k and y + r_l = c_l (mod 2^(k-1)),
 *   y = c_l - r_l + 2^(k-1) (c_h xor r_h)        (an identity over the integers), so
 *   floor(y / 2^d) = floor(c_l / 2^d) - floor(r_l / 2^d) + 2^(k-1-d) (c_h + (1 - 2 c_h) r_h) - e,  e in {0, 1}.
 * Being an integer identity it holds in every ring: D hands A and B additive shares of r_h and
 * floor(r_l / 2^d) in Z_2^l, A adds the public part, and the result floor(x / 2^d) + {0, 1} (after subtracting
 * 2^(k-2-d)) is shared in Z_2^l at no extra round. Error: floor plus a stochastic last bit, P[+1] =
 * frac(x / 2^d) (unbiased), at most 1 ulp. Outside the precondition the output is wrong (y wraps mod 2^(k-1)),
 * which callers must exclude: for k = 32 that means |x| < 2^30 for the full sum of products and addends (single
 * terms may wrap; only the sum counts). For l = 32 the output is meaningful mod 2^32 only (the caller's next
 * operation must need no more).
 *
 * Cost per dealer chunk of m elements, 2 rounds (dealers rotate as in truncate.ts): D sends m values of Z_2^k to
 * A, and m of Z_2^k plus 2m of Z_2^l to B; A and B each send m of Z_2^k (round 1) and m of Z_2^l (round 2).
 * A Z_2^32 value takes 4 bytes, a Z_2^64 value 8, each message rounded up to whole 8-byte words. Per element
 * averaged over the parties at large n: 10.7 bytes for 32 -> 32, 16 for 32 -> 64 and 64 -> 32, 21.3 for 64 -> 64.
 */
import type { Buf } from '@puma/backend';
import type { PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import type { AShare } from '../share.ts';
import { cost, type Cost } from '../cost.ts';
import { dealerChunks, dealtByChunks } from '../dealers.ts';
import { replicateHalves } from './halves.ts';
import { signBitWords, truncationMask, truncationOpening } from './truncate.ts';
import { laneCount, packedBytes, packLanes, unpackLanes, type RingBits } from './lanes.ts';

export interface RingChange {
  inBits: RingBits;
  outBits: RingBits;
}

export function truncateRingCost(n: number, rings: RingChange): Cost {
  const { inBits: k, outBits: l } = rings;
  const bytes: [number, number, number] = [0, 0, 0];
  dealerChunks(n).forEach((m, dealer) => {
    if (m === 0) return;
    bytes[dealer] += packedBytes(laneCount([{ count: m, bits: k }])) + packedBytes(laneCount([{ count: m, bits: k }, { count: 2 * m, bits: l }]));
    for (const other of [(dealer + 1) % 3, (dealer + 2) % 3]) bytes[other] += packedBytes(laneCount([{ count: m, bits: k }])) + packedBytes(laneCount([{ count: m, bits: l }]));
  });
  return cost(2, ...bytes);
}

function checkArgs(d: number, rings: RingChange): void {
  for (const b of [rings.inBits, rings.outBits]) if (b !== 32 && b !== 64) throw new Error(`truncateRing: ring Z_2^${b} is not supported (32 or 64)`);
  const maxD = rings.inBits - 3;
  if (!Number.isInteger(d) || d < 1 || d > maxD) throw new Error(`truncateRing: truncation by ${d} bits is out of range [1, ${maxD}] for input ring Z_2^${rings.inBits}`);
}

async function chunk(p: Party, z: Buf, d: number, rings: RingChange, dealer: PartyId): Promise<AShare> {
  const be = p.backend;
  const { inBits: k, outBits: l } = rings;
  const n = z.length;
  const tag = p.nextTag();
  const A = ((dealer + 1) % 3) as PartyId;
  const B = ((dealer + 2) % 3) as PartyId;
  const K = 1n << BigInt(k - 1 - d);

  let twoOfTwo: Buf | null = null;
  if (p.id === dealer) {
    const r = be.add(p.prgWith(A, tag, n, 1), p.prgWith(B, tag, n, 1));
    const { msb: rHigh, low: rLow } = truncationMask(p, r, d, k);
    const m2 = be.sub(rHigh, p.prgWith(A, tag, n, 2));
    const h2 = be.sub(rLow, p.prgWith(A, tag, n, 3));
    const masked = await be.read(be.add(z, r));
    const toB = packLanes([{ words: masked, bits: k }, { words: await be.read(m2), bits: l }, { words: await be.read(h2), bits: l }]);
    await p.exchange(tag, [[A, packLanes([{ words: masked, bits: k }])], [B, toB]], []);
  } else {
    const isA = p.id === A;
    const other = isA ? B : A;
    const [fromDealer, fromOther] = await p.exchange(tag, [[other, packLanes([{ words: await be.read(z), bits: k }])]], [dealer, other]);
    const [masked, mShare, hShare] = isA
      ? [...unpackLanes(fromDealer, [{ count: n, bits: k }]), p.prgWith(dealer, tag, n, 2), p.prgWith(dealer, tag, n, 3)]
      : unpackLanes(fromDealer, [{ count: n, bits: k }, { count: n, bits: l }, { count: n, bits: l }]);
    const [theirZ] = unpackLanes(fromOther, [{ count: n, bits: k }]);
    const c = be.addScalar(be.add(be.add(be.upload(masked as BigUint64Array), z), be.upload(theirZ)), 1n << BigInt(k - 2));
    // Only A adds the public part; B needs msb(c) alone.
    const opening = isA ? truncationOpening(p, c, d, k) : null;
    const cHigh = opening?.msb ?? signBitWords(p, c, k);
    const sign = be.addScalar(be.mulScalar(cHigh, BigInt.asUintN(64, -2n)), 1n);
    const m = mShare instanceof BigUint64Array ? be.upload(mShare) : mShare;
    const h = hShare instanceof BigUint64Array ? be.upload(hShare) : hShare;
    let y = be.sub(be.mulScalar(be.mul(m, sign), K), h);
    if (opening) y = be.add(y, opening.pub);
    twoOfTwo = y;
  }

  return replicateHalves(p, twoOfTwo, n, dealer, [n], l);
}

/**
 * Truncates a 3-of-3 additive product share z (this party's term, masked by a zero sharing, as for
 * truncateProduct) read in Z_2^inBits by `bits`, into a replicated share of Z_2^outBits.
 */
export function truncateRing(p: Party, z: Buf, shape: readonly number[], bits: number, rings: RingChange): Promise<AShare> {
  checkArgs(bits, rings);
  return p.profile('truncateRing', () => dealtByChunks(p, z.length, shape, (q, start, count, dealer) => chunk(q, p.backend.slice(z, start, count), bits, rings, dealer)));
}
