/**
 * Truncation by 2^d of a 3-of-3 additive product (fused after a multiplication) with a dealer, exact up to a
 * stochastic last bit. Follows the probabilistic truncation of
 * Escudero et al. (CRYPTO 2020, "Improved primitives for MPC over mixed arithmetic-binary circuits", TruncPr
 * with the MSB of the mask known in shared form), as used for replicated 3PC by Dalskov, Escudero and Keller
 * (arXiv 1910.12435, section 3.2.2), with one party as the dealer of the mask material.
 *
 * Dealers rotate (dealers.ts): party c deals chunk c of the elements, so every party sends about the same.
 * Below, for one chunk, D is its dealer and A = D + 1, B = D + 2 (mod 3) the other two.
 *
 * Let y = x + 2^62 (so 0 <= y < 2^63 whenever |x| < 2^62). D draws r = r1 + r2 (r1 from the key it shares
 * with A, r2 from the key it shares with B) and gives A and B additive shares of msb(r) and
 * r' = (r mod 2^63) >> d. A and B learn c = y + r (uniform). Writing c' = c mod 2^63:
 *   y >> d = (c' >> d) + 2^(63-d) * (msb(c) xor msb(r)) - r' - e,  e in {0, 1}
 * where msb(c) xor msb(r) = msb(c) + (1 - 2 msb(c)) msb(r) is linear in the shared msb(r). Subtracting
 * 2^(62-d) gives floor(x / 2^d) + {0, 1}: at most 1 ulp of error, with P[+1] = frac(x / 2^d), so the rounding
 * is unbiased. No catastrophic failure for |x| < 2^62 (ABY3's local truncation fails with probability
 * 2^(l+1-64) per element; this never does).
 * The result, additively shared by A and B, is turned back into replicated form in a second round.
 * A replicated share takes truncateWrap.ts instead (2 rounds too, fewer bytes); its two-party split needs no
 * message, while a product's three terms would need one more round to become two.
 *
 * Cost per chunk of m elements: 2 rounds. The input is the 3-of-3 additive product: D sends 4m words
 * (z_D + r to A and B, the msb share and r' share to B), A and B 2m each (their terms, then the resharing),
 * and the multiplication's own resharing round disappears (mul + trunc = 2 rounds). With the chunks
 * n_0 + n_1 + n_2 = n of dealerChunks, party i sends 4 n_i + 2 (n - n_i) words: about 8n/3 once the dealers
 * rotate, 4n / 2n / 2n below that size.
 */
import type { Buf } from '@puma/backend';
import type { PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import type { AShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { dealerChunks, dealtByChunks } from '../dealers.ts';
import { replicateHalves } from './halves.ts';

const OFFSET = 1n << 62n;

export function truncateProductCost(n: number): Cost {
  const sizes = dealerChunks(n);
  const words = sizes.map((own) => 4 * own + 2 * (n - own));
  return cost(2, words[0] * WORD, words[1] * WORD, words[2] * WORD);
}

/** A truncation's shift: 1 to 61 bits (the input's |x| < 2^62 leaves 2^(62-d) >= 2). */
export function checkTruncationBits(d: number): void {
  if (!Number.isInteger(d) || d < 1 || d > 61) throw new Error(`truncation by ${d} bits is out of range [1, 61]`);
}

/**
 * The dealer's mask material for a truncation by d of words read in Z_2^k (default 64): (r mod 2^(k-1)) >> d and
 * the top bit r_(k-1) (also maskedChain.ts's components and truncateRing.ts's).
 */
export function truncationMask(p: Party, r: Buf, d: number, k = 64): { low: Buf; msb: Buf } {
  const be = p.backend;
  const shifted = be.shl(r, 65 - k);
  const low = be.shrLogical(shifted, 65 - k + d);
  p.drop(shifted);
  return { low, msb: signBitWords(p, r, k) };
}

/** Bit k-1 of every word (the sign bit in Z_2^k) as 0/1 words. */
export function signBitWords(p: Party, w: Buf, k = 64): Buf {
  const be = p.backend;
  if (k === 64) return be.shrLogical(w, 63);
  const top = be.shl(w, 64 - k);
  const bit = be.shrLogical(top, 63);
  p.drop(top);
  return bit;
}

/**
 * The public part of a truncation by d in Z_2^k (default 64) from the opened c = y + 2^(k-2) + r: P = (c mod
 * 2^(k-1)) >> d + 2^(k-1-d) msb(c) - 2^(k-2-d), and msb(c) (its top bit); y >> d = P + 2^(k-1-d) (1 - 2 msb(c))
 * msb(r) - ((r mod 2^(k-1)) >> d) - {0, 1}.
 */
export function truncationOpening(p: Party, c: Buf, d: number, k = 64): { pub: Buf; msb: Buf } {
  const be = p.backend;
  const { low, msb } = truncationMask(p, c, d, k);
  const msbK = be.mulScalar(msb, 1n << BigInt(k - 1 - d));
  const lowSum = be.add(low, msbK);
  const pub = be.addScalar(lowSum, BigInt.asUintN(64, -(1n << BigInt(k - 2 - d))));
  p.drop(low, msbK, lowSum);
  return { pub, msb };
}

/** Words a dealer deals beside m = msb(r) and h = (r mod 2^63) >> d, derived from them (truncateSquares.ts: h^2, m h). */
export interface DealtExtras {
  count: number;
  /** At the dealer: the extra words from m and h, in order (the caller's to release). */
  deal: (m: Buf, h: Buf) => Buf[];
}

/** A chunk's truncation after its first round, at A or B. */
export interface OpenedTruncation {
  /** This party's additive half of the result y = P + beta m - h (P on A's half only). */
  half: Buf;
  /** With `parts`: P and beta = 2^(63-d) (1 - 2 msb(c)), public to A and B, and this party's halves of m, h and the extras. */
  parts?: { pub: Buf; beta: Buf; m: Buf; h: Buf; extras: Buf[] };
}

/**
 * A dealer truncation's first round for one chunk (z: this party's 3-of-3 term of its elements): the dealer D
 * opens z + r to A and B and deals halves of m and h (A's from its key with D, streams 2 and 3; B's sent), and
 * of `extras` beside them (streams 4, 5, ...). Null at D; at A and B the result's half, and with `parts` the
 * opening's public parts and the dealt halves (B then computes P too).
 */
export async function openTruncation(p: Party, z: Buf, d: number, dealer: PartyId, o: { extras?: DealtExtras; parts?: boolean } = {}): Promise<OpenedTruncation | null> {
  const be = p.backend;
  const n = z.length;
  const tag = p.nextTag();
  const K = 1n << BigInt(63 - d);
  const A = ((dealer + 1) % 3) as PartyId;
  const B = ((dealer + 2) % 3) as PartyId;
  const extraCount = o.extras?.count ?? 0;

  if (p.id === dealer) {
    const rA = p.prgWith(A, tag, n, 1);
    const rB = p.prgWith(B, tag, n, 1);
    const r = be.add(rA, rB);
    const { low: rLow, msb: rMsb } = truncationMask(p, r, d);
    const dealt = [rMsb, rLow, ...(o.extras?.deal(rMsb, rLow) ?? [])];
    // B's halves: each dealt word less A's, which A draws from its key with D.
    const halvesA = dealt.map((_, i) => p.prgWith(A, tag, n, 2 + i));
    const toB = dealt.map((v, i) => be.sub(v, halvesA[i]));
    const toA = be.add(z, r);
    const toBAll = be.concat([toA, ...toB]);
    p.drop(rA, rB, r, ...dealt, ...halvesA, ...toB);
    await p.exchange(tag, [[A, toA], [B, toBAll]], []);
    p.drop(toA, toBAll);
    return null;
  }
  const isA = p.id === A;
  const other = isA ? B : A;
  const got = await p.exchange(tag, [[other, z]], [dealer, other]);
  // Temporaries are released as soon as they are used (Party.drop); results are unchanged.
  const fromDealer = be.upload(got[0]);
  const masked = isA ? fromDealer : be.slice(fromDealer, 0, n);
  const otherZ = be.upload(got[1]);
  const mine = be.add(z, otherZ);
  const cRaw = be.add(masked, mine);
  const c = be.addScalar(cRaw, OFFSET);
  // A adds the public part; B needs msb(c) alone unless the caller wants the parts.
  const opening = isA || o.parts ? truncationOpening(p, c, d) : null;
  const cMsb = opening?.msb ?? signBitWords(p, c);
  const minus2 = be.mulScalar(cMsb, -2n & ((1n << 64n) - 1n));
  const sign = be.addScalar(minus2, 1n);
  const beta = be.mulScalar(sign, K);
  const [m, h, ...extras] = Array.from({ length: 2 + extraCount }, (_, i) => (isA ? p.prgWith(dealer, tag, n, 2 + i) : be.slice(fromDealer, (1 + i) * n, n)));
  const betaM = be.mul(beta, m);
  const y = be.sub(betaM, h);
  const half = isA ? be.add(y, (opening as { pub: Buf }).pub) : y;
  p.drop(...(isA ? [y] : [masked]), otherZ, mine, cRaw, c, cMsb, minus2, sign, betaM, fromDealer);
  if (o.parts) return { half, parts: { pub: (opening as { pub: Buf }).pub, beta, m, h, extras } };
  p.drop(beta, m, h, ...extras, ...(opening ? [opening.pub] : []));
  return { half };
}

/** One dealer's chunk: z is this party's 3-of-3 additive term of the chunk's elements. */
async function truncateChunk(p: Party, z: Buf, d: number, dealer: PartyId): Promise<AShare> {
  const opened = await openTruncation(p, z, d, dealer);
  return replicateHalves(p, opened?.half ?? null, z.length, dealer, [z.length]);
}

/** Truncates a 3-of-3 additive product share z (this party's term, already masked by a zero sharing). */
export function truncateProduct(p: Party, z: Buf, shape: readonly number[], bits = p.fracBits): Promise<AShare> {
  checkTruncationBits(bits);
  const be = p.backend;
  return p.profile('truncate', () => dealtByChunks(p, z.length, shape, async (q, start, count, dealer) => {
    const part = be.slice(z, start, count);
    const out = await truncateChunk(q, part, bits, dealer);
    q.drop(part);
    return out;
  }));
}
