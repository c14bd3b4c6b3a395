/**
 * How a masked chain's parties (maskedChain.ts) evaluate public-coefficient forms for one dealer chunk: the
 * replicated components of a form over inputs (level 0), A's or B's additive half of its inputs, its public part
 * F_P over the atoms, and its mask part F_M as (component, coefficient) terms.
 */
import type { Buf } from '@puma/backend';
import type { PartyId } from '@puma/transport';
import type { Party } from '../party.ts';
import { aShare, type AShare } from '../share.ts';
import type { ChainCoef, ChainForm, Comp } from './maskedChainPlan.ts';

export type Co = bigint | Buf;

export interface Chunk {
  q: Party;
  start: number;
  m: number;
  dealer: PartyId;
  A: PartyId;
  B: PartyId;
}

/** A coefficient for this chunk: the scalar, or the chunk's slice of the vector, uploaded. */
export function co(c: Chunk, k: ChainCoef): Co {
  return typeof k === 'bigint' ? BigInt.asUintN(64, k) : c.q.backend.upload(k.subarray(c.start, c.start + c.m));
}

export function times(c: Chunk, x: Buf, k: Co): Buf {
  return typeof k === 'bigint' ? c.q.backend.mulScalar(x, k) : c.q.backend.mul(x, k);
}

/**
 * The sum of parts (zeros for none); the partial sums it makes are released as it goes (the parts are the caller's).
 * With one part the result is that part itself: a caller must not release a part it summed alone.
 */
export function sum(c: Chunk, parts: Buf[]): Buf {
  const be = c.q.backend;
  if (parts.length === 0) return be.zeros(c.m);
  let acc = parts[0];
  for (let i = 1; i < parts.length; i++) {
    const next = be.add(acc, parts[i]);
    if (i > 1) c.q.drop(acc);
    acc = next;
  }
  return acc;
}

/** The chunk's slice of a replicated input. */
const slicedInput = (c: Chunk, x: AShare) => ({ s0: c.q.backend.slice(x.s0, c.start, c.m), s1: c.q.backend.slice(x.s1, c.start, c.m) });

/** A form over inputs and a constant as replicated components (the constant on component 0). */
export function inputForm(c: Chunk, f: ChainForm, inputs: AShare[]): AShare {
  const be = c.q.backend;
  const s0: Buf[] = [];
  const s1: Buf[] = [];
  for (const [i, k] of f.inputs ?? []) {
    const x = slicedInput(c, inputs[i]);
    const kk = co(c, k);
    s0.push(times(c, x.s0, kk));
    s1.push(times(c, x.s1, kk));
  }
  let a = sum(c, s0);
  let b = sum(c, s1);
  if (f.constant !== undefined) {
    const k = co(c, f.constant);
    const add = (x: Buf) => (typeof k === 'bigint' ? be.addScalar(x, k) : be.add(x, k));
    if (c.q.id === 0) a = add(a);
    if (c.q.id === 2) b = add(b);
  }
  return aShare([c.m], a, b);
}

/** A's or B's additive half of a form's inputs: A holds x_{D+1} + x_{D+2}, B holds x_D. */
export function inputHalf(c: Chunk, f: ChainForm | undefined, inputs: AShare[]): Buf {
  const parts: Buf[] = [];
  for (const [i, k] of f?.inputs ?? []) {
    const x = slicedInput(c, inputs[i]);
    parts.push(times(c, c.q.id === c.A ? c.q.backend.add(x.s0, x.s1) : x.s1, co(c, k)));
  }
  return sum(c, parts);
}

/** What A and B know of the atoms: P, the negated sign -s (for T's coefficient), and their component halves. */
export interface Known {
  pub: Buf[];
  negSign: Array<Buf | null>;
  comp: Map<Comp, Buf>;
  pairs: Map<string, Buf>;
}

/** F_P: the public part of a form over atoms and a constant. */
export function formPublic(c: Chunk, f: ChainForm | undefined, kn: Known): Buf {
  const be = c.q.backend;
  let acc = sum(c, (f?.atoms ?? []).map(([k, w]) => times(c, kn.pub[k], co(c, w))));
  if (f?.constant !== undefined) {
    const k = co(c, f.constant);
    acc = typeof k === 'bigint' ? be.addScalar(acc, k) : be.add(acc, k);
  }
  return acc;
}

/** F_M as (component, coefficient) terms: R_k with f_k, T_k with -f_k s_k. */
export function maskTerms(c: Chunk, f: ChainForm | undefined, kn: Known, atomBits: readonly number[]): Array<[Comp, Co]> {
  const out: Array<[Comp, Co]> = [];
  for (const [k, w] of f?.atoms ?? []) {
    const kk = co(c, w);
    out.push([2 * k, kk]);
    if (atomBits[k] > 0) out.push([2 * k + 1, times(c, kn.negSign[k] as Buf, kk)]);
  }
  return out;
}

export const maskHalf = (c: Chunk, terms: Array<[Comp, Co]>, kn: Known): Buf => sum(c, terms.map(([a, k]) => times(c, kn.comp.get(a) as Buf, k)));
