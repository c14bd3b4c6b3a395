/**
 * Bit injection (boolean bit -> arithmetic 0/1), after ABY3 section 5.4. Party 0 knows t = b0 ^ b1; parties 1
 * and 2 both know b2. b = t ^ b2 = t + b2 - 2 t b2.
 *  Round 1: party 0 shares t (c0 from the key it shares with party 2, c1 = t - c0 sent to party 1).
 *  Round 2: t * b2 is a 3-of-3 sum (party 1: c1 b2, party 2: c0 b2), reshared.
 * Cost: 2 rounds; words sent: party 0 2n, parties 1 and 2 n each. Exact.
 */
import type { Party } from '../party.ts';
import { aShare, type AShare, type BShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';
import { reshare } from './mul.ts';

export const b2aCost = (n: number): Cost => cost(2, 2 * n * WORD, n * WORD, n * WORD);

export function b2a(p: Party, b: BShare): Promise<AShare> {
  if (b.planes !== 1) throw new Error(`b2a takes one bit plane, got ${b.planes}`);
  return p.profile('b2a', async () => {
    const be = p.backend;
    const n = b.n;
    const tag = p.nextTag();
    let t0: ReturnType<typeof be.zeros>;
    let t1: ReturnType<typeof be.zeros>;
    let prod: ReturnType<typeof be.zeros>;
    let b2s0 = be.zeros(n);
    let b2s1 = be.zeros(n);
    if (p.id === 0) {
      const t = be.fromBitPlanes(be.xor(b.s0, b.s1), n, 1);
      const c0 = p.prgWith(2, tag, n, 1);
      const c1 = be.sub(t, c0);
      await p.exchange(tag, [[1, c1]], []);
      [t0, t1] = [c0, c1];
      prod = be.zeros(n);
    } else if (p.id === 1) {
      const [c1] = await p.exchange(tag, [], [0]);
      const c1b = be.upload(c1);
      const b2 = be.fromBitPlanes(b.s1, n, 1);
      [t0, t1] = [c1b, be.zeros(n)];
      b2s1 = b2;
      prod = be.mul(c1b, b2);
    } else {
      await p.exchange(tag, [], []);
      const c0 = p.prgWith(0, tag, n, 1);
      const b2 = be.fromBitPlanes(b.s0, n, 1);
      [t0, t1] = [be.zeros(n), c0];
      b2s0 = b2;
      prod = be.mul(c0, b2);
    }
    const tag2 = p.nextTag();
    const tb = await reshare(p, be.add(prod, p.zeroShare(tag2, n)), [n], tag2);
    const two = 2n;
    return aShare([n], be.sub(be.add(t0, b2s0), be.mulScalar(tb.s0, two)), be.sub(be.add(t1, b2s1), be.mulScalar(tb.s1, two)));
  });
}
