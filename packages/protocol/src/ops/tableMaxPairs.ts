/**
 * tableMax.ts's per-pair loops, one plain (synchronous) function per role and phase: the dealer's tables and
 * fields, a helper's pad bits before the exchange, and a helper's count shares after it. The formulas are in
 * tableMax.ts's header.
 * Why they are separate functions: inside the one async decide function, V8 compiled the loop it was in at the
 * time (on-stack replacement) and then threw that code away at each later loop, whose operations had no type
 * feedback yet ("insufficient type feedback" deopts), then compiled again; on GPT-2-base's prompt that warm-up,
 * not the work, took most of the op's time (bench core's tableMax row: 550 ms for its first call, about 110 ms once
 * warm). Each function here keeps its own feedback, so each is compiled once, on its first hot call.
 */
import { leafArrays } from './tableLayout.ts';
import { carryForms, fieldSets, fieldsOf, type Chunk } from './tableMaxPlan.ts';
import { getBits, putBits, windowMasks } from './tableWire.ts';

/**
 * The dealer's half of round 1 for one chunk: every pair's leaf tables (flipped by a_k = the two flip pads'
 * XOR) into `rp` at the pair's table bits, and P's fields (U_top, then sigma a_S per set, less Q's keyed share
 * `fieldQ`) into `fp`. s0, s1: this party's two components of every candidate's window (u32 pairs per u64).
 */
export function dealChunk(c: Chunk, s0: Uint32Array, s1: Uint32Array, width: number, flipP: Uint32Array, flipQ: Uint32Array, fieldQ: Uint32Array, rp: Uint32Array, fp: Uint32Array): void {
  const { mask, lowMask } = windowMasks(width);
  for (const unit of c.units) {
    const { k, mb, layout: l } = unit;
    const M1 = (1 << mb) - 1;
    const { offset: leafOffset, mask: leafMask, eq: leafEq, at: leafAt, bits: leafBits, all: leafAll } = leafArrays(l);
    const fieldSet = fieldSets(l);
    const leaves = leafAt.length;
    const F = fieldSet.length;
    const u = new Uint32Array(k);
    for (let i = 0; i < k; i++) {
      const e = 2 * (c.candStart + unit.cand + i);
      u[i] = ((s0[e] + s1[e]) & mask) >>> 0;
    }
    let pair = 0;
    for (let i = 0; i < k; i++) {
      for (let j = i + 1; j < k; j++, pair++) {
        const U = ((u[i] - u[j]) & mask) >>> 0;
        const uLow = U & lowMask;
        const uTop = U >>> (width - 1);
        const padAt = unit.pad + pair * leaves;
        const recAt = unit.rec + pair * l.tableBits;
        let flips = 0;
        for (let kk = 0; kk < leaves; kk++) {
          const one = (1 << ((uLow >>> leafOffset[kk]) & leafMask[kk])) >>> 0;
          let table = leafEq[kk] ? one : one - 1;
          const bit = padAt + kk;
          if (((flipP[bit >>> 5] ^ flipQ[bit >>> 5]) >>> (bit & 31)) & 1) {
            flips |= 1 << kk;
            table = (table ^ leafAll[kk]) >>> 0;
          }
          putBits(rp, recAt + leafAt[kk], table, leafBits[kk]);
        }
        const sigma = uTop ? M1 : 1;
        let at = unit.field + pair * F * mb;
        putBits(fp, at, (uTop - getBits(fieldQ, at, mb)) & M1, mb);
        for (let f = 1; f < F; f++) {
          at += mb;
          const S = fieldSet[f];
          putBits(fp, at, (((flips & S) === S ? sigma : 0) - getBits(fieldQ, at, mb)) & M1, mb);
        }
      }
    }
  }
}

/**
 * A helper's half of round 1 for one chunk: for every pair and leaf, the table bit it will read (its entry,
 * kept in `entries` for after the exchange) and the other helper's pad at that bit, set into `padBits` (the
 * helper's message). v: the chunk's candidates' component x_{T+2}, cut to the window's bits.
 */
export function helperEntries(c: Chunk, v: Uint32Array, width: number, pad: Uint32Array, entries: Int32Array, padBits: Uint32Array): void {
  const { lowMask } = windowMasks(width);
  for (const unit of c.units) {
    const { k, layout: l } = unit;
    const { offset: leafOffset, mask: leafMask, at: leafAt } = leafArrays(l);
    const leaves = leafAt.length;
    const tableBits = l.tableBits;
    let pair = 0;
    for (let i = 0; i < k; i++) {
      const vi = v[unit.cand + i];
      for (let j = i + 1; j < k; j++, pair++) {
        const vPrime = ~(vi - v[unit.cand + j]) & lowMask;
        const recAt = unit.rec + pair * tableBits;
        const padAt = unit.pad + pair * leaves;
        for (let kk = 0; kk < leaves; kk++) {
          const pos = recAt + leafAt[kk] + ((vPrime >>> leafOffset[kk]) & leafMask[kk]);
          const bit = padAt + kk;
          entries[bit] = pos;
          if ((pad[pos >>> 5] >>> (pos & 31)) & 1) padBits[bit >>> 5] |= 1 << (bit & 31);
        }
      }
    }
  }
}

/**
 * A helper's end of round 1 for one chunk: the opened leaves E of every pair (its table entries under the
 * other helper's pad bits), the pair's lt share mod 2^mb from its fields `own`, and each candidate's losses
 * (its count share, returned per candidate of the chunk).
 */
export function helperCounts(c: Chunk, isP: boolean, v: Uint32Array, width: number, entries: Int32Array, tables: Uint32Array, otherPad: Uint32Array, own: Uint32Array): Uint32Array {
  const { mask } = windowMasks(width);
  const counts = new Uint32Array(c.cands);
  const pOne = isP ? 1 : 0;
  for (const unit of c.units) {
    const { k, mb, layout: l } = unit;
    const M1 = (1 << mb) - 1;
    const leaves = l.leaves.length;
    const F = fieldsOf(l);
    const forms = carryForms(l);
    let pair = 0;
    for (let i = 0; i < k; i++) {
      for (let j = i + 1; j < k; j++, pair++) {
        const padAt = unit.pad + pair * leaves;
        let E = 0;
        for (let kk = 0; kk < leaves; kk++) {
          const pos = entries[padAt + kk];
          const bit = padAt + kk;
          if (((tables[pos >>> 5] >>> (pos & 31)) ^ (otherPad[bit >>> 5] >>> (bit & 31))) & 1) E |= 1 << kk;
        }
        const fieldAt = unit.field + pair * F * mb;
        const uShare = getBits(own, fieldAt, mb);
        const sigmaShare = (pOne - 2 * uShare) & M1;
        // sigma carry: the terms' expansion for this E, precomputed (carryForms); field 0 stands for sigma.
        const form = forms[E];
        let carry = 0;
        for (let x = 0; x < form.length; x += 2) {
          const f = form[x];
          carry += form[x + 1] * (f === 0 ? sigmaShare : getBits(own, fieldAt + f * mb, mb));
        }
        const V = ((v[unit.cand + i] - v[unit.cand + j]) & mask) >>> 0;
        const vTop = V >>> (width - 1);
        const lt = (uShare + (vTop ? sigmaShare - carry : carry)) & M1;
        // i loses to j when lt (a_i' < a_j'); j loses to i unless lt.
        counts[unit.cand + i] = (counts[unit.cand + i] + lt) & M1;
        counts[unit.cand + j] = (counts[unit.cand + j] - lt + pOne) & M1;
      }
    }
  }
  return counts;
}
