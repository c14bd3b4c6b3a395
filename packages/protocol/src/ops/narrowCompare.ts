/**
 * Narrow comparison: [x < y] from a window of `bits` bits of x - y, after a local downcast (ring casting as in
 * Ditto and Nimbus; bit windows as in HummingBird, MLSys 2024).
 * Each party shifts each of its components right by `drop` (logical shift, no communication) and keeps the low
 * `bits` bits. For three components, floor(x0/2^d) + floor(x1/2^d) + floor(x2/2^d) = floor(x/2^d) - e with
 * e in {0, 1, 2}, exactly, mod 2^(64-d): the wrap of the 64-bit sum is a multiple of 2^(64-d) and vanishes, so
 * there is no large-error event (unlike local truncation kept in Z_2^64). Then x' - y' with
 * x' = floor(x/2^d) - e_x is a sharing in Z_2^bits, and its sign is the top bit of the 3-input sum (msb.ts's
 * circuit at width `bits`).
 * Precondition (raw ring units): |x - y| < 2^(drop+bits-1) - 2^(drop+2). Then |x' - y'| < 2^(bits-1) and:
 *  - lessThanNarrow returns [x' < y']: equal to [x < y] whenever |x - y| >= 3 * 2^drop; closer pairs may get
 *    either answer. Every copy of one share truncates identically, so all comparisons in a batch agree with one
 *    total order of the x' (a tournament stays consistent: no cycles, exactly one winner per group).
 *  - lessThanPublicNarrow returns [x - c < 0] on the window: exact unless 0 <= x - c < 2^(drop+1), where it may
 *    answer 1.
 * Outside the precondition the window wraps and the answer is the sign of (x' - y') mod 2^bits: arbitrary.
 * Callers must establish the bound (nn's callers state it as their input domain, and the model tests assert
 * it on real activations).
 * Cost: 2 + ceil(log2(bits - 2)) rounds and topBitGates(bits).planes bits per element per party: at 18 bits
 * 6 rounds and 59 bits (the 64-bit msb: 8 rounds, 241 bits). A window with `tables` (up to 32 bits) takes the
 * top bit from a dealer's tables instead (tableCompare.ts): 2 rounds, about 89 bits per element and party at
 * 18 bits; for the comparisons on a critical path (softmax's max, the norms' octaves). Same answers.
 */
import type { Party } from '../party.ts';
import { numel, sameShape, type AShare, type BShare } from '../share.ts';
import type { Cost } from '../cost.ts';
import { subPublic } from './linear.ts';
import { topBit, topBitCost } from './msb.ts';
import { MAX_TABLE_WIDTH, topBitTables, topBitTablesCost } from './tableCompare.ts';

export interface CompareWindow {
  /** Low bits dropped by the local downcast. */
  readonly drop: number;
  /** Width of the window compared (3..64 - drop). */
  readonly bits: number;
  /** Compare by a dealer's tables in 2 rounds (more bytes) where the window has at most 32 bits. */
  readonly tables?: boolean;
}

/** Does this window compare by tables (tableCompare.ts)? */
const byTables = (w: CompareWindow): boolean => w.tables === true && w.bits <= MAX_TABLE_WIDTH;

/** Bits kept by nn's window: 18 is the widest window at 6 rounds (16 carry segments, a 4-level tree). */
export const NARROW_BITS = 18;
/** Resolution of nn's window below the fixed-point unit: the dropped bits end at 2^-7. */
export const NARROW_RESOLUTION_BITS = 7;

/**
 * The window nn uses at `fracBits` fraction bits: decisions exact for differences of at least 3 * 2^-7, valid
 * for differences below 2^10 - 2^-5 (in real units, at any fracBits >= 7).
 */
export function fixedPointWindow(fracBits: number): CompareWindow {
  if (fracBits < NARROW_RESOLUTION_BITS) throw new Error(`narrow comparison: needs at least ${NARROW_RESOLUTION_BITS} fraction bits, session has ${fracBits}`);
  return { drop: fracBits - NARROW_RESOLUTION_BITS, bits: NARROW_BITS };
}

/** Largest |x - y| (real units at `fracBits`) the window compares correctly. */
export function windowRange(w: CompareWindow, fracBits: number): number {
  return (2 ** (w.drop + w.bits - 1) - 2 ** (w.drop + 2)) / 2 ** fracBits;
}

function checkWindow(w: CompareWindow): void {
  if (!Number.isInteger(w.drop) || !Number.isInteger(w.bits) || w.drop < 0 || w.bits < 3 || w.drop + w.bits > 64) {
    throw new Error(`narrow comparison: window of ${w.bits} bits above ${w.drop} dropped bits must satisfy 0 <= drop, 3 <= bits, drop + bits <= 64`);
  }
}

export const lessThanNarrowCost = (n: number, w: CompareWindow): Cost => {
  checkWindow(w);
  return byTables(w) ? topBitTablesCost(n, w.bits) : topBitCost(n, w.bits);
};

/** Sign of the downcast difference: components (x_i >> drop) - (y_i >> drop), compared on `bits` bits. */
async function windowSign(p: Party, x: AShare, y: AShare | null, w: CompareWindow): Promise<BShare> {
  checkWindow(w);
  const be = p.backend;
  const cast = (v: AShare) => ({ s0: be.shrLogical(v.s0, w.drop), s1: be.shrLogical(v.s1, w.drop) });
  const cx = cast(x);
  const cy = y ? cast(y) : null;
  const d = cy ? { s0: be.sub(cx.s0, cy.s0), s1: be.sub(cx.s1, cy.s1) } : cx;
  if (byTables(w)) {
    const sign = await topBitTables(p, { kind: 'A', shape: [numel(x)], s0: d.s0, s1: d.s1 }, w.bits);
    p.drop(...(cy ? [d.s0, d.s1, cx.s0, cx.s1, cy.s0, cy.s1] : [cx.s0, cx.s1]));
    return sign;
  }
  const planes = { s0: be.toBitPlanes(d.s0), s1: be.toBitPlanes(d.s1) };
  // Temporaries of this call, released early (Party.drop).
  p.drop(d.s0, d.s1, ...(cy ? [cx.s0, cx.s1, cy.s0, cy.s1] : []));
  const sign = await topBit(p, planes, numel(x), w.bits);
  p.drop(planes.s0, planes.s1);
  return sign;
}

/** [x' < y'] on the window (see the header for when this equals [x < y]). */
export function lessThanNarrow(p: Party, x: AShare, y: AShare, w: CompareWindow): Promise<BShare> {
  sameShape(x, y, 'lessThanNarrow');
  return p.profile('lessThanNarrow', () => windowSign(p, x, y, w));
}

/** [x < c] on the window for public reals c (exact unless 0 <= x - c < 2^(drop+1) raw units). */
export function lessThanPublicNarrow(p: Party, x: AShare, c: number | ArrayLike<number>, w: CompareWindow): Promise<BShare> {
  return p.profile('lessThanNarrow', () => windowSign(p, subPublic(p, x, c), null, w));
}
