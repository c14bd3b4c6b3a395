/**
 * AND gates on boolean replicated shares, many at once (ABY3 section 5.1 over GF(2)): party i computes
 * z_i = a_i b_i ^ a_i b_{i+1} ^ a_{i+1} b_i ^ alpha_i and sends it to party i-1.
 * Cost: 1 round, `words` u64 words (64 gates each) per party.
 */
import type { Buf } from '@puma/backend';
import type { Party } from '../party.ts';
import { cost, WORD, type Cost } from '../cost.ts';

export interface BoolPair {
  s0: Buf;
  s1: Buf;
}

export const andCost = (words: number): Cost => cost(1, words * WORD, words * WORD, words * WORD);

export async function andGates(p: Party, a: BoolPair, b: BoolPair): Promise<BoolPair> {
  if (a.s0.length !== b.s0.length) throw new Error(`andGates: ${a.s0.length} vs ${b.s0.length} words`);
  const be = p.backend;
  const tag = p.nextTag();
  const t00 = be.and(a.s0, b.s0);
  const t01 = be.and(a.s0, b.s1);
  const t10 = be.and(a.s1, b.s0);
  const alpha = p.zeroShareXor(tag, a.s0.length);
  const u = be.xor(t00, t01);
  const v = be.xor(t10, alpha);
  const z = be.xor(u, v);
  p.drop(t00, t01, t10, alpha, u, v);
  const [fromNext] = await p.exchange(tag, [[p.prev, z]], [p.next]);
  return { s0: z, s1: be.upload(fromNext) };
}

export function xorPair(p: Party, a: BoolPair, b: BoolPair): BoolPair {
  return { s0: p.backend.xor(a.s0, b.s0), s1: p.backend.xor(a.s1, b.s1) };
}
