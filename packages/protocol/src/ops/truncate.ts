/**
 * Truncation by 2^d with a dealer, exact up to a stochastic last bit. Follows the probabilistic truncation of
 * Escudero et al. (CRYPTO 2020, "Improved primitives for MPC over mixed arithmetic-binary circuits", TruncPr
 * with the MSB of the mask known in shared form), as used for replicated 3PC by Dalskov, Escudero and Keller
 * (arXiv 1910.12435, section 3.2.2), with party 0 as the dealer of the mask material.
 *
 * Let y = x + 2^62 (so 0 <= y < 2^63 whenever |x| < 2^62). Party 0 draws r = r1 + r2 (r1 from the key it shares
 * with party 1, r2 from the key it shares with party 2) and gives parties 1 and 2 additive shares of
 * msb(r) and r' = (r mod 2^63) >> d. Parties 1 and 2 learn c = y + r (uniform). Writing c' = c mod 2^63:
 *   y >> d = (c' >> d) + 2^(63-d) * (msb(c) xor msb(r)) - r' - e,  e in {0, 1}
 * where msb(c) xor msb(r) = msb(c) + (1 - 2 msb(c)) msb(r) is linear in the shared msb(r). Subtracting
 * 2^(62-d) gives floor(x / 2^d) + {0, 1}: at most 1 ulp of error, with P[+1] = frac(x / 2^d), so the rounding
 * is unbiased. No catastrophic failure for |x| < 2^62 (ABY3's local truncation fails with probability
 * 2^(l+1-64) per element; this never does).
 * The result, additively shared by parties 1 and 2, is turned back into replicated form in a second round.
 *
 * Cost (n elements): 2 rounds. From replicated input: party 0 sends 4n words (x0 + r to party 1; x1 + r,
 * msb share, r' share to party 2), parties 1 and 2 send n words each. Fused after a multiplication (input is
 * the 3-of-3 additive product): party 0 sends 4n, parties 1 and 2 send 2n each, and the multiplication's own
 * resharing round disappears (mul + trunc = 2 rounds).
 */
import type { Buf } from '@puma/backend';
import type { Party } from '../party.ts';
import { aShare, type AShare } from '../share.ts';
import { cost, WORD, type Cost } from '../cost.ts';

const OFFSET = 1n << 62n;

export const truncateCost = (n: number): Cost => cost(2, 4 * n * WORD, n * WORD, n * WORD);
export const truncateProductCost = (n: number): Cost => cost(2, 4 * n * WORD, 2 * n * WORD, 2 * n * WORD);

function checkBits(d: number): void {
  if (!Number.isInteger(d) || d < 1 || d > 61) throw new Error(`truncation by ${d} bits is out of range [1, 61]`);
}

type TruncInput = { kind: 'replicated'; x: AShare } | { kind: 'additive'; z: Buf; shape: readonly number[] };

async function truncateCore(p: Party, input: TruncInput, d: number): Promise<AShare> {
  checkBits(d);
  const be = p.backend;
  const shape = input.kind === 'replicated' ? input.x.shape : input.shape;
  const n = input.kind === 'replicated' ? input.x.s0.length : input.z.length;
  const tag = p.nextTag();
  const K = 1n << BigInt(63 - d);

  let twoOfTwo: Buf | null = null;
  if (p.id === 0) {
    const r = be.add(p.prgWith(1, tag, n, 1), p.prgWith(2, tag, n, 1));
    const rMsb = be.shrLogical(r, 63);
    const rLow = be.shrLogical(be.shl(r, 1), d + 1);
    const m2 = be.sub(rMsb, p.prgWith(1, tag, n, 2));
    const h2 = be.sub(rLow, p.prgWith(1, tag, n, 3));
    const toA = input.kind === 'replicated' ? be.add(input.x.s0, r) : be.add(input.z, r);
    const toB = input.kind === 'replicated' ? be.add(input.x.s1, r) : toA;
    await p.exchange(tag, [[1, toA], [2, be.concat([toB, m2, h2])]], []);
  } else {
    const other = p.id === 1 ? 2 : 1;
    const sends: Array<[number, Buf]> = input.kind === 'additive' ? [[other, input.z]] : [];
    const from = input.kind === 'additive' ? [0, other] : [0];
    const got = await p.exchange(tag, sends, from);
    const fromDealer = be.upload(got[0]);
    const masked = p.id === 1 ? fromDealer : be.slice(fromDealer, 0, n);
    const mine = input.kind === 'replicated' ? be.add(input.x.s0, input.x.s1) : be.add(input.z, be.upload(got[1]));
    const c = be.addScalar(be.add(masked, mine), OFFSET);
    const cMsb = be.shrLogical(c, 63);
    const sign = be.addScalar(be.mulScalar(cMsb, -2n & ((1n << 64n) - 1n)), 1n);
    const [m, h] = p.id === 1
      ? [p.prgWith(0, tag, n, 2), p.prgWith(0, tag, n, 3)]
      : [be.slice(fromDealer, n, n), be.slice(fromDealer, 2 * n, n)];
    let y = be.sub(be.mulScalar(be.mul(m, sign), K), h);
    if (p.id === 1) {
      const cLow = be.shrLogical(be.shl(c, 1), d + 1);
      const pub = be.addScalar(be.add(cLow, be.mulScalar(cMsb, K)), BigInt.asUintN(64, -(1n << BigInt(62 - d))));
      y = be.add(y, pub);
    }
    twoOfTwo = y;
  }

  // Back to replicated form: c0 from the key of parties 0 and 2, c1 from the key of parties 0 and 1,
  // c2 = y - c0 - c1 assembled by parties 1 and 2 from each other's masked halves.
  const tag2 = p.nextTag();
  if (p.id === 0) {
    await p.exchange(tag2, [], []);
    return aShare(shape, p.prgWith(2, tag2, n), p.prgWith(1, tag2, n));
  }
  const other = p.id === 1 ? 2 : 1;
  const myComp = p.prgWith(0, tag2, n);
  const half = be.sub(twoOfTwo as Buf, myComp);
  const [theirs] = await p.exchange(tag2, [[other, half]], [other]);
  const c2 = be.add(half, be.upload(theirs));
  return p.id === 1 ? aShare(shape, myComp, c2) : aShare(shape, c2, myComp);
}

/** Truncates a replicated share by `bits` (default: the session's fraction bits). */
export function truncate(p: Party, x: AShare, bits = p.fracBits): Promise<AShare> {
  return p.profile('truncate', () => truncateCore(p, { kind: 'replicated', x }, bits));
}

/** Truncates a 3-of-3 additive product share z (this party's term, already masked by a zero sharing). */
export function truncateProduct(p: Party, z: Buf, shape: readonly number[], bits = p.fracBits): Promise<AShare> {
  return p.profile('truncate', () => truncateCore(p, { kind: 'additive', z, shape }, bits));
}
