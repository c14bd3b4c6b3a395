/**
 * Most significant bit of an arithmetic replicated share, as a boolean share (one bit plane).
 * ABY3 section 5.3's bit decomposition idea, restricted to the top bit and done bit-sliced:
 *  1. The components x0, x1, x2 are free boolean shares. A carry-save adder gives x = s + 2c with
 *     s = x0 ^ x1 ^ x2 (local) and c = maj(x0, x1, x2) = x0x1 ^ x1x2 ^ x2x0; each pairwise AND is known to one
 *     party, so c costs one resharing round (63 planes: bits 0..62).
 *  2. msb(s + 2c) = s63 ^ c62 ^ carry into bit 63. Generate/propagate g_j = s_j c_{j-1}, p_j = s_j ^ c_{j-1}
 *     for j = 1..62 (62 AND planes; bit 0 has no carry-in or generate) and combine them in a binary tree,
 *     (G, P) o (G', P') = (G ^ P G', P P'), skipping P for the lowest segment: 6 levels, 116 AND planes.
 * Cost: 8 rounds; 63 + 62 + 116 = 241 AND planes, i.e. 241 * ceil(n / 64) words per party (241 bits per
 * element, below SPU's 256-bit MSB). Exact: no error.
 */
import type { Buf } from '@puma/backend';
import type { Party } from '../party.ts';
import { bShare, numel, planeWords, type AShare, type BShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { andGates, xorPair, type BoolPair } from './and.ts';

export const MSB_AND_PLANES = 241;
export const MSB_ROUNDS = 8;
export const msbCost = (n: number): Cost => {
  const b = MSB_AND_PLANES * planeWords(n) * WORD;
  return cost(MSB_ROUNDS, b, b, b);
};

interface Segment {
  g: BoolPair;
  p: BoolPair | null;
}

export function msb(p: Party, x: AShare): Promise<BShare> {
  return p.profile('msb', async () => {
    const be = p.backend;
    const n = numel(x);
    const W = planeWords(n);
    const S: BoolPair = { s0: be.toBitPlanes(x.s0), s1: be.toBitPlanes(x.s1) };
    const planes = (v: BoolPair, from: number, count: number): BoolPair => ({ s0: be.slice(v.s0, from * W, count * W), s1: be.slice(v.s1, from * W, count * W) });

    // 1. carry planes 0..62: party i knows x_i & x_{i+1}; reshare the 3-of-3 XOR sharing.
    const tag = p.nextTag();
    const low = planes(S, 0, 63);
    const local = be.xor(be.and(low.s0, low.s1), p.zeroShareXor(tag, 63 * W));
    const [fromNext] = await p.exchange(tag, [[p.prev, local]], [p.next]);
    const C: BoolPair = { s0: local, s1: be.upload(fromNext) };

    // 2. generate and propagate for bit positions 1..62.
    const a = planes(S, 1, 62);
    const b = planes(C, 0, 62);
    const g = await andGates(p, a, b);
    const prop = xorPair(p, a, b);
    let segs: Segment[] = [];
    for (let j = 0; j < 62; j++) segs.push({ g: planes(g, j, 1), p: j === 0 ? null : planes(prop, j, 1) });

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
      const prod = await andGates(p, { s0: be.concat(lhs[0]), s1: be.concat(lhs[1]) }, { s0: be.concat(rhs[0]), s1: be.concat(rhs[1]) });
      let k = 0;
      const next: Segment[] = [];
      for (let t = 0; t < pairs; t++) {
        const lo = segs[2 * t];
        const hi = segs[2 * t + 1];
        const pg = planes(prod, k++, 1);
        const pp = lo.p ? planes(prod, k++, 1) : null;
        next.push({ g: xorPair(p, hi.g, pg), p: pp });
      }
      if (segs.length % 2) next.push(segs[segs.length - 1]);
      segs = next;
    }
    const top = xorPair(p, xorPair(p, planes(S, 63, 1), planes(C, 62, 1)), segs[0].g);
    return bShare(n, 1, top.s0, top.s1);
  });
}
