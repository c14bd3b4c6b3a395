/**
 * Bit injection (boolean bit -> arithmetic 0/1), after ABY3 section 5.4. For a dealer D with A = D + 1 and
 * B = D + 2 (mod 3): D knows t = b_D ^ b_{D+1}; A and B both know b_{D+2}. b = t ^ b_{D+2} = t + b_{D+2} - 2 t b_{D+2}.
 *  Round 1: D shares t (component D: c0 from the key it shares with B; component A: c1 = t - c0, sent to A).
 *  Round 2: t * b_{D+2} is a 3-of-3 sum (A: c1 b_{D+2}, B: c0 b_{D+2}), reshared.
 * The dealer rotates as in truncation (dealers.ts): party i deals chunk n_i of the bits.
 * Cost: 2 rounds; words sent: party i sends n_i + n (its chunk's c1, then every chunk's resharing), about
 * 4n/3 each once the dealers rotate, 2n / n / n below that size. Exact.
 * With outBits 32 the result is a share of Z_2^32 (the identity holds modulo 2^32; upper halves arbitrary) and
 * every value travels as a 32-bit lane (lanes.ts): half the bytes, each message rounded up to whole words.
 */
import type { Buf } from '@puma/backend';
import type { PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import { aShare, type AShare, type BShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { reshare } from './mul.ts';
import { reshare32 } from './mulRaw32.ts';
import { dealerChunks, dealtByChunks } from '../dealers.ts';
import { laneCount, packedBytes, packLanes, unpackLanes, type RingBits } from './lanes.ts';

export const b2aCost = (n: number, outBits: RingBits = 64): Cost => {
  const sizes = dealerChunks(n);
  if (outBits === 64) return cost(2, (n + sizes[0]) * WORD, (n + sizes[1]) * WORD, (n + sizes[2]) * WORD);
  // Per dealer chunk of m: the dealer's m lanes to A, then each party's m lanes of the resharing.
  const lanes = (m: number) => (m === 0 ? 0 : packedBytes(laneCount([{ count: m, bits: 32 }])));
  const reshares = sizes.reduce((s, m) => s + lanes(m), 0);
  return cost(2, lanes(sizes[0]) + reshares, lanes(sizes[1]) + reshares, lanes(sizes[2]) + reshares);
};

/** A message of n values of Z_2^bits: as is for 64, one 32-bit lane per value for 32. */
const pack = async (p: Party, x: Buf, bits: RingBits): Promise<Buf | BigUint64Array> => (bits === 64 ? x : packLanes([{ words: await p.backend.read(x), bits }]));
const unpack = (msg: BigUint64Array, n: number, bits: RingBits): BigUint64Array => (bits === 64 ? msg : unpackLanes(msg, [{ count: n, bits }])[0]);

/** One dealer's chunk; `s0`, `s1`: this party's two bit components as 0/1 words. */
async function b2aChunk(p: Party, s0: Buf, s1: Buf, n: number, dealer: PartyId, bits: RingBits): Promise<AShare> {
  const be = p.backend;
  const A = ((dealer + 1) % 3) as PartyId;
  const B = ((dealer + 2) % 3) as PartyId;
  const tag = p.nextTag();
  let t0: Buf;
  let t1: Buf;
  let prod: Buf;
  let b2s0 = be.zeros(n);
  let b2s1 = be.zeros(n);
  if (p.id === dealer) {
    const c0 = p.prgWith(B, tag, n, 1);
    const c1 = be.sub(be.xor(s0, s1), c0);
    await p.exchange(tag, [[A, await pack(p, c1, bits)]], []);
    [t0, t1] = [c0, c1];
    prod = be.zeros(n);
  } else if (p.id === A) {
    const [c1] = await p.exchange(tag, [], [dealer]);
    const c1b = be.upload(unpack(c1, n, bits));
    [t0, t1] = [c1b, be.zeros(n)];
    b2s1 = s1;
    prod = be.mul(c1b, s1);
  } else {
    await p.exchange(tag, [], []);
    const c0 = p.prgWith(dealer, tag, n, 1);
    [t0, t1] = [be.zeros(n), c0];
    b2s0 = s0;
    prod = be.mul(c0, s0);
  }
  const tag2 = p.nextTag();
  const z = be.add(prod, p.zeroShare(tag2, n));
  const tb = bits === 64 ? await reshare(p, z, [n], tag2) : await reshare32(p, z, [n], tag2);
  return aShare([n], be.sub(be.add(t0, b2s0), be.mulScalar(tb.s0, 2n)), be.sub(be.add(t1, b2s1), be.mulScalar(tb.s1, 2n)));
}

/** The bit as an arithmetic 0/1 share of Z_2^outBits (64 or 32). */
export function b2a(p: Party, b: BShare, outBits: RingBits = 64): Promise<AShare> {
  if (b.planes !== 1) throw new Error(`b2a takes one bit plane, got ${b.planes}`);
  if (outBits !== 64 && outBits !== 32) throw new Error(`b2a: ring Z_2^${outBits} is not supported (32 or 64)`);
  return p.profile('b2a', async () => {
    const be = p.backend;
    const n = b.n;
    const s0 = be.fromBitPlanes(b.s0, n, 1);
    const s1 = be.fromBitPlanes(b.s1, n, 1);
    return dealtByChunks(p, n, [n], (q, start, count, dealer) => b2aChunk(q, be.slice(s0, start, count), be.slice(s1, start, count), count, dealer, outBits));
  });
}
