/**
 * tableCompare.ts's per-element loops, one plain (synchronous) function per role and step: the dealer's
 * flipped tables and product planes, a helper's entries and pad bits, the opened leaves, and the helper's
 * replicated output bit. The formulas are in tableCompare.ts's header.
 * Why they are separate functions: inside the one async topBitTables, V8 compiled the loop it was running
 * (on-stack replacement) and discarded that code at each later loop that had no type feedback yet, then
 * compiled again, call after call (100,000 comparisons by tables with the parties in worker threads: 360-400 ms
 * for each of the first two calls, 55-65 ms once warm; now 76-90 ms for the first ones). Each function here keeps its own feedback and is compiled once.
 */
import { leafArrays, plane, type TableLayout } from './tableLayout.ts';
import { windowMasks } from './tableWire.ts';

/** A chunk of elements [start, start + count) of the batch. */
export interface ElementRange {
  start: number;
  count: number;
}

/**
 * The dealer's tables for every element of chunk `c` (record e at bit e * tableBits, the same in P's and Q's
 * records): each leaf's table of u = x_T + x_{T+1} (from s0, s1: u32 pairs per u64), flipped by its a_k bit
 * (planes `a`, W u64 words per plane), u_L folded into the top gt leaf.
 */
export function dealTables(l: TableLayout, c: ElementRange, s0: Uint32Array, s1: Uint32Array, width: number, a: Uint32Array, W: number, rp: Uint32Array, rq: Uint32Array): void {
  const { mask, lowMask } = windowMasks(width);
  const leafCount = l.leaves.length;
  const { offset: leafOffset, mask: leafMask, eq: leafEq, at: leafAt, bits: leafBits, all: leafAll, block: leafBlock } = leafArrays(l);
  const top = l.blocks.length - 1;
  for (let e = 0; e < c.count; e++) {
    const j = 2 * (c.start + e);
    const u = ((s0[j] + s1[j]) & mask) >>> 0;
    const uLow = u & lowMask;
    const flipTop = u >>> (width - 1);
    const word = e >>> 5;
    const shift = e & 31;
    const base = e * l.tableBits;
    for (let k = 0; k < leafCount; k++) {
      const U = (uLow >>> leafOffset[k]) & leafMask[k];
      const one = (1 << U) >>> 0;
      let table = leafEq[k] ? one : one - 1;
      let flip = (a[word + 2 * W * k] >>> shift) & 1;
      if (!leafEq[k] && leafBlock[k] === top) flip ^= flipTop;
      if (flip) table = (table ^ leafAll[k]) >>> 0;
      // Both records have the same layout: one field, written twice.
      const pos = base + leafAt[k];
      const w = pos >>> 5;
      const off = pos & 31;
      const lo = (table << off) >>> 0;
      rp[w] |= lo;
      rq[w] |= lo;
      if (off + leafBits[k] > 32) {
        const hi = table >>> (32 - off);
        rp[w + 1] |= hi;
        rq[w + 1] |= hi;
      }
    }
  }
}

/** P's shares of a_S = AND of the a_k over S for every l.products set S, as planes into `out` (W u64 words each). */
export function productPlanes(l: TableLayout, a: Uint32Array, W: number, out: Uint32Array): void {
  l.products.forEach((S, i) => {
    const o = out.subarray(2 * i * W, 2 * (i + 1) * W);
    o.fill(0xffffffff);
    for (let k = 0, r = S; r; k++, r >>>= 1) {
      if (!(r & 1)) continue;
      const ak = plane(a, k, W);
      for (let x = 0; x < o.length; x++) o[x] &= ak[x];
    }
  });
}

/**
 * A helper's round-1 message: for every element and leaf the table bit it reads (kept in `entries`,
 * element-major) and the other helper's pad at that bit, as planes per leaf (`padBits`, W u64 words each).
 */
export function helperEntries(l: TableLayout, c: ElementRange, v: Uint32Array, width: number, pad: Uint32Array, W: number, entries: Int32Array, padBits: Uint32Array): void {
  const { lowMask } = windowMasks(width);
  const leafCount = l.leaves.length;
  const { offset: leafOffset, mask: leafMask, at: leafAt } = leafArrays(l);
  for (let e = 0; e < c.count; e++) {
    const vPrime = ~v[e] & lowMask;
    const base = e * l.tableBits;
    for (let k = 0; k < leafCount; k++) {
      const pos = base + leafAt[k] + ((vPrime >>> leafOffset[k]) & leafMask[k]);
      entries[e * leafCount + k] = pos;
      if ((pad[pos >>> 5] >>> (pos & 31)) & 1) padBits[(e >>> 5) + 2 * W * k] |= 1 << (e & 31);
    }
  }
}

/** E_k = leaf_k ^ a_k for every element, as planes per leaf: the table bits at the entries under the other helper's pad bits. */
export function openedLeaves(l: TableLayout, c: ElementRange, entries: Int32Array, tables: Uint32Array, otherPad: Uint32Array, W: number): Uint32Array {
  const leafCount = l.leaves.length;
  const E = new Uint32Array(leafCount * 2 * W);
  for (let e = 0; e < c.count; e++) {
    const word = e >>> 5;
    const shift = e & 31;
    for (let k = 0; k < leafCount; k++) {
      const pos = entries[e * leafCount + k];
      const at = word + 2 * W * k;
      if (((tables[pos >>> 5] >>> (pos & 31)) ^ (otherPad[at] >>> shift)) & 1) E[at] |= 1 << shift;
    }
  }
  return E;
}

/** b_Q = v_L ^ c_own ^ own key draw ^ (c_other ^ other key draw), one plane (W u64 words). */
export function helperBit(c: ElementRange, v: Uint32Array, width: number, own: Uint32Array, keyed: Uint32Array, theirs: Uint32Array, W: number): Uint32Array {
  const bQ = new Uint32Array(2 * W);
  for (let e = 0; e < c.count; e++) if (v[e] >>> (width - 1)) bQ[e >>> 5] |= 1 << (e & 31);
  for (let i = 0; i < bQ.length; i++) bQ[i] = (bQ[i] ^ own[i] ^ keyed[i] ^ theirs[i]) >>> 0;
  return bQ;
}
