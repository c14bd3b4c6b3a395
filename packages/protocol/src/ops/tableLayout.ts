/**
 * The local algebra of the dealer-table comparison (tableCompare.ts): how the low bits of a window are cut into
 * blocks, which leaves (gt and eq tables) and terms that gives, which products of the leaves' masks the terms
 * need, and each helper's share of the terms once the masked leaves are open. No messages here.
 */

/** Widest window the tables take (values are handled as 32-bit words). */
export const MAX_TABLE_WIDTH = 32;
/** Most blocks: the shared products grow as 1.5 * 2^q. */
const MAX_BLOCKS = 7;

export interface TableLayout {
  readonly width: number;
  /** Blocks of the low width - 1 bits, least significant first. */
  readonly blocks: ReadonlyArray<{ offset: number; size: number }>;
  /** Leaf k's table: its block, whether it is eq (else gt), its bit offset in a record. */
  readonly leaves: ReadonlyArray<{ block: number; eq: boolean; at: number }>;
  /** Bits of one element's tables. */
  readonly tableBits: number;
  /** The terms as leaf masks: term i = gt_i and eq_j for j > i. */
  readonly terms: readonly number[];
  /** Leaf sets of two or more inside one term whose a_S P receives (in this order, after the tables). */
  readonly products: readonly number[];
}

function layoutFor(width: number, size: number): TableLayout {
  const low = width - 1;
  const q = Math.max(1, Math.ceil(low / size));
  const blocks = Array.from({ length: q }, (_, i) => ({ offset: i * size, size: Math.min(size, low - i * size) }));
  const leaves: { block: number; eq: boolean; at: number }[] = [];
  let at = 0;
  const gtLeaf: number[] = [];
  const eqLeaf: number[] = [];
  blocks.forEach((b, i) => {
    gtLeaf[i] = leaves.length;
    leaves.push({ block: i, eq: false, at });
    at += 1 << b.size;
    if (i > 0) {
      eqLeaf[i] = leaves.length;
      leaves.push({ block: i, eq: true, at });
      at += 1 << b.size;
    }
  });
  const terms = blocks.map((_, i) => {
    let m = 1 << gtLeaf[i];
    for (let j = i + 1; j < q; j++) m |= 1 << eqLeaf[j];
    return m;
  });
  const products = new Set<number>();
  for (const m of terms) for (let s = m; s > 0; s = (s - 1) & m) if (popcount(s) >= 2) products.add(s);
  return { width, blocks, leaves, tableBits: at, terms, products: [...products].sort((a, b) => a - b) };
}

export function popcount(m: number): number {
  let c = 0;
  for (let v = m; v; v &= v - 1) c++;
  return c;
}

/** Bits per element on the wire in all: the tables twice, the products, 2q - 1 leaf pads each way, 2 in round 2. */
const wireBits = (l: TableLayout): number => 2 * l.tableBits + l.products.length + 2 * l.leaves.length + 2;

function checkWidth(width: number): void {
  if (!Number.isInteger(width) || width < 2 || width > MAX_TABLE_WIDTH) throw new Error(`table comparison: width ${width} must be an integer in [2, ${MAX_TABLE_WIDTH}]`);
}

/** Of the layouts with block sizes 2..5 (at most MAX_BLOCKS blocks), the one with the fewest `bits`. */
function bestLayout(width: number, bits: (l: TableLayout) => number): TableLayout {
  let best: TableLayout | undefined;
  for (let size = 2; size <= 5; size++) {
    const l = layoutFor(width, size);
    if (l.blocks.length > MAX_BLOCKS) continue;
    if (!best || bits(l) <= bits(best)) best = l;
  }
  return best!;
}

const layouts = new Map<string, TableLayout>();

/** The block layout of a window of `width` bits: block sizes 2..5, the fewest bits on the wire. */
export function tableLayout(width: number): TableLayout {
  checkWidth(width);
  const key = `${width}`;
  let l = layouts.get(key);
  if (!l) layouts.set(key, (l = bestLayout(width, wireBits)));
  return l;
}

/** Bits per element on the wire when the terms come out as fieldBits-bit arithmetic shares (tableMax.ts). */
const fieldWireBits = (l: TableLayout, fieldBits: number): number => 2 * l.tableBits + (1 + l.leaves.length + l.products.length) * fieldBits + 2 * l.leaves.length;

/**
 * The block layout for tableMax.ts, whose dealer sends every leaf set's product (singles included) as a
 * fieldBits-bit arithmetic share instead of one bit: fewer, larger blocks pay off sooner.
 */
export function fieldTableLayout(width: number, fieldBits: number): TableLayout {
  checkWidth(width);
  const key = `${width} ${fieldBits}`;
  let l = layouts.get(key);
  if (!l) layouts.set(key, (l = bestLayout(width, (c) => fieldWireBits(c, fieldBits))));
  return l;
}

/** A layout's leaves as typed arrays, for the per-element loops of the table ops. */
export interface LeafArrays {
  /** Bit offset and mask of the leaf's block in the window's low bits. */
  readonly offset: Int32Array;
  readonly mask: Int32Array;
  /** 1 for an eq table, 0 for gt. */
  readonly eq: Uint8Array;
  /** Its table's bit offset in a record, its table's width (2^size bits) and that many ones. */
  readonly at: Int32Array;
  readonly bits: Int32Array;
  readonly all: Uint32Array;
  readonly block: Int32Array;
}

const leafArraysOf = new WeakMap<TableLayout, LeafArrays>();

export function leafArrays(l: TableLayout): LeafArrays {
  let a = leafArraysOf.get(l);
  if (a) return a;
  const size = Int32Array.from(l.leaves, (f) => l.blocks[f.block].size);
  a = {
    offset: Int32Array.from(l.leaves, (f) => l.blocks[f.block].offset),
    mask: Int32Array.from(size, (z) => (1 << z) - 1),
    eq: Uint8Array.from(l.leaves, (f) => (f.eq ? 1 : 0)),
    at: Int32Array.from(l.leaves, (f) => f.at),
    bits: Int32Array.from(size, (z) => 1 << z),
    all: Uint32Array.from(size, (z) => (z === 5 ? 0xffffffff : 2 ** (1 << z) - 1)),
    block: Int32Array.from(l.leaves, (f) => f.block),
  };
  leafArraysOf.set(l, a);
  return a;
}

/** Plane k of `planes` (32 elements per 32-bit word, planeWords(m) u64 words per plane). */
export const plane = (planes: Uint32Array, k: number, W: number): Uint32Array => planes.subarray(k * 2 * W, (k + 1) * 2 * W);

/**
 * This party's XOR share of sum_terms AND_{k in M} (E_k ^ a_k), given the opened E (planes per leaf), its shares
 * of the single a_k (planes per leaf) and of the products a_S (planes per l.products entry); P adds the
 * public term (a_empty = 1).
 */
export function evaluateTerms(l: TableLayout, E: Uint32Array, singles: Uint32Array, products: Uint32Array, W: number, count: number, isP: boolean): Uint32Array {
  const words = 2 * W;
  const out = new Uint32Array(words);
  const index = new Map(l.products.map((S, i) => [S, i]));
  const prod = new Uint32Array(words);
  for (const M of l.terms) {
    for (let S = M; ; S = (S - 1) & M) {
      const size = popcount(S);
      const share = size === 0 ? null : size === 1 ? plane(singles, Math.log2(S), W) : plane(products, index.get(S)!, W);
      if (share || isP) {
        // (AND of E over M \ S) AND this party's share of a_S.
        if (share) prod.set(share);
        else prod.fill(0xffffffff);
        for (let k = 0, r = M & ~S; r; k++, r >>>= 1) {
          if (!(r & 1)) continue;
          const e = plane(E, k, W);
          for (let i = 0; i < words; i++) prod[i] &= e[i];
        }
        for (let i = 0; i < words; i++) out[i] ^= prod[i];
      }
      if (S === 0) break;
    }
  }
  return out;
}

