/**
 * Equality test [x == y] as a boolean share. With d = x - y: party 0 knows u = d0 + d1, parties 1 and 2 know
 * v = -d2, and d = 0 exactly when u = v. Party 0 boolean-shares u against v in one round (components
 * c0 = PRG shared with party 2, c1 = u ^ c0 sent to party 1, c2 = v), so e = u ^ v is shared; then
 * [d == 0] = AND of the 64 bits of ~e, a 6-level tree (32 + 16 + 8 + 4 + 2 + 1 = 63 AND planes).
 * Cost: 7 rounds; party 0 sends n + 63 ceil(n/64) words, parties 1 and 2 send 63 ceil(n/64) words. Exact.
 */
import type { Party } from '../party.ts';
import { bShare, numel, planeWords, sameShape, type AShare, type BShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { andGates, type BoolPair } from './and.ts';
import { sub } from './linear.ts';

export const equalCost = (n: number): Cost => {
  const tree = 63 * planeWords(n) * WORD;
  return cost(7, n * WORD + tree, tree, tree);
};

export function equal(p: Party, x: AShare, y: AShare): Promise<BShare> {
  sameShape(x, y, 'equal');
  return p.profile('equal', async () => {
    const be = p.backend;
    const n = numel(x);
    const W = planeWords(n);
    const d = sub(p, x, y);
    const tag = p.nextTag();
    let e0;
    let e1;
    if (p.id === 0) {
      const c0 = p.prgWith(2, tag, n);
      const c1 = be.xor(be.add(d.s0, d.s1), c0);
      await p.exchange(tag, [[1, c1]], []);
      [e0, e1] = [c0, c1];
    } else if (p.id === 1) {
      const [c1] = await p.exchange(tag, [], [0]);
      [e0, e1] = [be.upload(c1), be.neg(d.s1)];
    } else {
      await p.exchange(tag, [], []);
      [e0, e1] = [be.neg(d.s0), p.prgWith(0, tag, n)];
    }
    // ~e: flip component 0 (party 0's s0, party 2's s1).
    if (p.id === 0) e0 = be.not(e0);
    if (p.id === 2) e1 = be.not(e1);
    let v: BoolPair = { s0: be.toBitPlanes(e0), s1: be.toBitPlanes(e1) };
    for (let count = 64; count > 1; count /= 2) {
      const h = count / 2;
      const lo = { s0: be.slice(v.s0, 0, h * W), s1: be.slice(v.s1, 0, h * W) };
      const hi = { s0: be.slice(v.s0, h * W, h * W), s1: be.slice(v.s1, h * W, h * W) };
      v = await andGates(p, lo, hi);
    }
    return bShare(n, 1, v.s0, v.s1);
  });
}
