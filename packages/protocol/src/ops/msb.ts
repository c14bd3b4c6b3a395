/**
 * Most significant bit of an arithmetic replicated share, as a boolean share (one bit plane).
 * ABY3 section 5.3's bit decomposition idea, restricted to the top bit and done bit-sliced, for a sum of the
 * three components taken on `width` bits (64 here; narrowCompare.ts runs it on a narrower window):
 *  1. The components x0, x1, x2 are free boolean shares. A carry-save adder gives x = s + 2c with
 *     s = x0 ^ x1 ^ x2 (local) and c = maj(x0, x1, x2) = x0x1 ^ x1x2 ^ x2x0; each pairwise AND is known to one
 *     party, so c costs one resharing round (width - 1 planes: bits 0..width-2).
 *  2. msb(s + 2c) = s_top ^ c_(top-1) ^ carry into the top bit. Generate/propagate g_j = s_j c_{j-1},
 *     p_j = s_j ^ c_{j-1} for j = 1..width-2 (width - 2 AND planes; bit 0 has no carry-in or generate) and
 *     combine them in a binary tree, (G, P) o (G', P') = (G ^ P G', P P'), skipping P for the lowest segment.
 * Cost at width 64: 8 rounds; 63 + 62 + 116 = 241 AND planes, i.e. 241 * ceil(n / 64) words per party (241 bits
 * per element, below SPU's 256-bit MSB). In general 2 + ceil(log2(width - 2)) rounds (topBitCost). Exact.
 */
import type { Buf } from '@puma/backend';
import type { Party } from '../party.ts';
import { bShare, numel, planeWords, type AShare, type BShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { andGates, xorPair, type BoolPair } from './and.ts';

/** AND planes and rounds of the top-bit circuit on `width` bits (width >= 3). */
export function topBitGates(width: number): { planes: number; rounds: number } {
  if (!Number.isInteger(width) || width < 3 || width > 64) throw new Error(`msb: width ${width} must be an integer in [3, 64]`);
  let planes = (width - 1) + (width - 2);
  let rounds = 2;
  // Segments carry (g, p) except the lowest, which carries g only: a pair costs 2 ANDs, 1 with the lowest.
  for (let segs = width - 2; segs > 1; segs = Math.ceil(segs / 2)) {
    planes += 2 * Math.floor(segs / 2) - 1;
    rounds++;
  }
  return { planes, rounds };
}

/** Cost of topBit on n elements at `width` bits. */
export function topBitCost(n: number, width: number): Cost {
  const { planes, rounds } = topBitGates(width);
  const b = planes * planeWords(n) * WORD;
  return cost(rounds, b, b, b);
}

export const MSB_AND_PLANES = topBitGates(64).planes;
export const MSB_ROUNDS = topBitGates(64).rounds;
export const msbCost = (n: number): Cost => topBitCost(n, 64);

interface Segment {
  g: BoolPair;
  p: BoolPair | null;
}

/**
 * Bit `width - 1` of x0 + x1 + x2 mod 2^width, for n elements whose components (this party's two) are given as
 * bit planes (Backend.toBitPlanes layout, at least `width` planes of ceil(n / 64) words).
 */
export async function topBit(p: Party, S: BoolPair, n: number, width: number): Promise<BShare> {
  topBitGates(width);
  const be = p.backend;
  const W = planeWords(n);
  const planes = (v: BoolPair, from: number, count: number): BoolPair => ({ s0: be.slice(v.s0, from * W, count * W), s1: be.slice(v.s1, from * W, count * W) });

  // 1. carry planes 0..width-2: party i knows x_i & x_{i+1}; reshare the 3-of-3 XOR sharing.
  const tag = p.nextTag();
  const low = planes(S, 0, width - 1);
  const pairAnd = be.and(low.s0, low.s1);
  const alpha = p.zeroShareXor(tag, (width - 1) * W);
  const local = be.xor(pairAnd, alpha);
  p.drop(low.s0, low.s1, pairAnd, alpha);
  const [fromNext] = await p.exchange(tag, [[p.prev, local]], [p.next]);
  const C: BoolPair = { s0: local, s1: be.upload(fromNext) };

  // 2. generate and propagate for bit positions 1..width-2.
  const a = planes(S, 1, width - 2);
  const b = planes(C, 0, width - 2);
  const g = await andGates(p, a, b);
  const prop = xorPair(p, a, b);
  let segs: Segment[] = [];
  for (let j = 0; j < width - 2; j++) segs.push({ g: planes(g, j, 1), p: j === 0 ? null : planes(prop, j, 1) });
  dropPairs(p, a, b, g, prop);

  // 3. prefix tree, one round per level with all of the level's AND gates batched.
  while (segs.length > 1) {
    const lhs: Buf[][] = [[], []];
    const rhs: Buf[][] = [[], []];
    const pairs = Math.floor(segs.length / 2);
    for (let t = 0; t < pairs; t++) {
      const lo = segs[2 * t];
      const hi = segs[2 * t + 1];
      const hp = hi.p as BoolPair;
      lhs[0].push(hp.s0); lhs[1].push(hp.s1); rhs[0].push(lo.g.s0); rhs[1].push(lo.g.s1);
      if (lo.p) {
        lhs[0].push(hp.s0); lhs[1].push(hp.s1); rhs[0].push(lo.p.s0); rhs[1].push(lo.p.s1);
      }
    }
    const left = { s0: be.concat(lhs[0]), s1: be.concat(lhs[1]) };
    const right = { s0: be.concat(rhs[0]), s1: be.concat(rhs[1]) };
    const prod = await andGates(p, left, right);
    dropPairs(p, left, right);
    let k = 0;
    const next: Segment[] = [];
    for (let t = 0; t < pairs; t++) {
      const lo = segs[2 * t];
      const hi = segs[2 * t + 1];
      const pg = planes(prod, k++, 1);
      const pp = lo.p ? planes(prod, k++, 1) : null;
      next.push({ g: xorPair(p, hi.g, pg), p: pp });
      dropPairs(p, lo.g, hi.g, hi.p as BoolPair, pg, ...(lo.p ? [lo.p] : []));
    }
    dropPairs(p, prod);
    if (segs.length % 2) next.push(segs[segs.length - 1]);
    segs = next;
  }
  const sTop = planes(S, width - 1, 1);
  const cTop = planes(C, width - 2, 1);
  const sc = xorPair(p, sTop, cTop);
  const top = xorPair(p, sc, segs[0].g);
  dropPairs(p, C, sTop, cTop, sc, segs[0].g);
  return bShare(n, 1, top.s0, top.s1);
}

/** Releases the circuit's temporaries (Party.drop): every plane here is a fresh slice or product of this call. */
function dropPairs(p: Party, ...pairs: BoolPair[]): void {
  for (const v of pairs) p.drop(v.s0, v.s1);
}

export function msb(p: Party, x: AShare): Promise<BShare> {
  return p.profile('msb', async () => {
    const be = p.backend;
    const S = { s0: be.toBitPlanes(x.s0), s1: be.toBitPlanes(x.s1) };
    const top = await topBit(p, S, numel(x), 64);
    dropPairs(p, S);
    return top;
  });
}
