/**
 * tableMax.ts's plan: how a batch of groups is cut into dealer chunks and laid out on the wire (tables, fields,
 * pad bits, opened counts, lookup tables), its declared costs, and the layout algebra the per-pair loops read
 * (typed arrays of the leaves, and the carry's linear form in the fields for each pattern of opened leaves).
 */
import type { PartyId } from '@puma/transport';
import { numel, type AShare } from '../share.ts';
import { cost, seq, WORD, type Cost } from '../cost.ts';
import { ROTATE_FROM } from '../dealers.ts';
import { fieldTableLayout, MAX_TABLE_WIDTH, popcount, type TableLayout } from './tableLayout.ts';
import { words64 } from './tableWire.ts';

/** A batch's groups: `units` groups of `arity` candidates, as one AShare [units, arity] each. */
export interface MaxGroups {
  readonly units: number;
  readonly arity: number;
}

/** The window compared: as narrowCompare.ts's CompareWindow, at most 32 bits. */
export interface TableMaxWindow {
  readonly drop: number;
  readonly bits: number;
}

export interface Unit {
  k: number;
  /** Modulus of the counts, 2^mb >= k. */
  mb: number;
  layout: TableLayout;
  /** Offsets of its first candidate, table bit, field bit, pad bit, opened-count bit, lookup word within its chunk. */
  cand: number;
  rec: number;
  field: number;
  pad: number;
  open: number;
  lut: number;
}

export interface Chunk {
  dealer: PartyId;
  units: Unit[];
  /** Its first candidate in the batch. */
  candStart: number;
  cands: number;
  recBits: number;
  fieldBits: number;
  padBits: number;
  openBits: number;
  lutWords: number;
}

const modBits = (k: number): number => Math.max(1, Math.ceil(Math.log2(k)));
export const fieldsOf = (l: TableLayout): number => 1 + l.leaves.length + l.products.length;

export function checkArgs(groups: readonly MaxGroups[], w: TableMaxWindow): void {
  if (!groups.length || groups.some((g) => !Number.isInteger(g.units) || g.units < 1 || !Number.isInteger(g.arity) || g.arity < 2 || g.arity > 1024)) {
    throw new Error(`tableMax: groups must have at least 1 unit of 2 to 1024 candidates, got ${JSON.stringify(groups)}`);
  }
  if (!Number.isInteger(w.drop) || w.drop < 0 || !Number.isInteger(w.bits) || w.bits < 2 || w.bits > MAX_TABLE_WIDTH || w.drop + w.bits > 64) {
    throw new Error(`tableMax: window of ${w.bits} bits above ${w.drop} must have 2 to ${MAX_TABLE_WIDTH} bits within 64`);
  }
}

/**
 * The batch's chunks: all of it dealt by party 0 below ROTATE_FROM pairs, else three contiguous runs of groups
 * of about equal work (pairs plus lookup words), as dealers.ts balances the truncations.
 */
export function chunksOf(groups: readonly MaxGroups[], width: number): Chunk[] {
  const all: Array<{ k: number; weight: number }> = [];
  for (const g of groups) for (let u = 0; u < g.units; u++) all.push({ k: g.arity, weight: (g.arity * (g.arity - 1)) / 2 + 2 * g.arity * (1 << modBits(g.arity)) });
  const pairs = groups.reduce((s, g) => s + (g.units * g.arity * (g.arity - 1)) / 2, 0);
  const total = all.reduce((s, u) => s + u.weight, 0);
  const cuts = pairs < ROTATE_FROM ? [all.length, all.length] : [total / 3, (2 * total) / 3].map((t) => {
    let acc = 0;
    let i = 0;
    while (i < all.length && acc + all[i].weight / 2 < t) acc += all[i++].weight;
    return i;
  });
  const bounds = [0, cuts[0], Math.max(cuts[0], cuts[1]), all.length];
  const chunks: Chunk[] = [];
  let candStart = 0;
  const layouts = new Map<number, TableLayout>();
  for (let d = 0; d < 3; d++) {
    const c: Chunk = { dealer: d as PartyId, units: [], candStart, cands: 0, recBits: 0, fieldBits: 0, padBits: 0, openBits: 0, lutWords: 0 };
    for (let u = bounds[d]; u < bounds[d + 1]; u++) {
      const k = all[u].k;
      const mb = modBits(k);
      let layout = layouts.get(mb);
      if (!layout) layouts.set(mb, (layout = fieldTableLayout(width, mb)));
      const pairsU = (k * (k - 1)) / 2;
      c.units.push({ k, mb, layout, cand: c.cands, rec: c.recBits, field: c.fieldBits, pad: c.padBits, open: c.openBits, lut: c.lutWords });
      c.cands += k;
      c.recBits += pairsU * layout.tableBits;
      c.fieldBits += pairsU * fieldsOf(layout) * mb;
      c.padBits += pairsU * layout.leaves.length;
      c.openBits += k * mb;
      c.lutWords += k << mb;
    }
    candStart += c.cands;
    if (c.units.length || d === 0) chunks.push(c);
  }
  return chunks;
}

/** Cost of tableMaxDecide: 1 round, the tables, fields and pad bits. */
export function tableMaxDecideCost(groups: readonly MaxGroups[], w: TableMaxWindow): Cost {
  checkArgs(groups, w);
  const bytes: [number, number, number] = [0, 0, 0];
  for (const c of chunksOf(groups, w.bits)) {
    if (!c.units.length) continue;
    bytes[c.dealer] += (2 * words64(c.recBits) + words64(c.fieldBits)) * WORD;
    bytes[(c.dealer + 1) % 3] += words64(c.padBits) * WORD;
    bytes[(c.dealer + 2) % 3] += words64(c.padBits) * WORD;
  }
  return cost(1, ...bytes);
}

/** Cost of tableMaxPick: 2 rounds, the opened counts with the lookup tables, then the resharing. */
export function tableMaxPickCost(groups: readonly MaxGroups[], w: TableMaxWindow): Cost {
  checkArgs(groups, w);
  const bytes: [number, number, number] = [0, 0, 0];
  for (const c of chunksOf(groups, w.bits)) {
    if (!c.units.length) continue;
    bytes[c.dealer] += 2 * c.lutWords * WORD;
    for (const h of [1, 2]) bytes[(c.dealer + h) % 3] += (words64(c.openBits) + c.units.length) * WORD;
  }
  return cost(2, ...bytes);
}

/** Cost of tableMax (decide, then pick). */
export const tableMaxCost = (groups: readonly MaxGroups[], w: TableMaxWindow): Cost => seq(tableMaxDecideCost(groups, w), tableMaxPickCost(groups, w));

const fieldSetsOf = new WeakMap<TableLayout, Int32Array>();

/** The leaf set of each field, in the dealer's order (field 0, U_top, has none; then singles, then l.products). */
export function fieldSets(l: TableLayout): Int32Array {
  let sets = fieldSetsOf.get(l);
  if (!sets) {
    const leaves = l.leaves.length;
    sets = Int32Array.from({ length: fieldsOf(l) }, (_, f) => (f === 0 ? 0 : f <= leaves ? 1 << (f - 1) : l.products[f - 1 - leaves]));
    fieldSetsOf.set(l, sets);
  }
  return sets;
}

const forms = new WeakMap<TableLayout, Int32Array[]>();

/**
 * For every value of the opened leaves E (a bit per leaf), sigma carry as a linear form in the fields: pairs
 * (field, coefficient), field 0 standing for sigma (a_empty) and field f >= 1 for its set as in the dealer's
 * order. A term t contributes [prod_{t\S} E_k] [prod_{S} (1 - 2 E_k)] to the set S, for every S in t.
 */
export function carryForms(l: TableLayout): Int32Array[] {
  const known = forms.get(l);
  if (known) return known;
  const leaves = l.leaves.length;
  const fieldOf = new Map<number, number>(l.products.map((S, i) => [S, 1 + leaves + i]));
  for (let k = 0; k < leaves; k++) fieldOf.set(1 << k, 1 + k);
  fieldOf.set(0, 0);
  const out: Int32Array[] = [];
  for (let E = 0; E < 1 << leaves; E++) {
    const coef = new Map<number, number>();
    for (const t of l.terms) {
      for (let S = t; ; S = (S - 1) & t) {
        if ((t & ~S & ~E) === 0) {
          const f = fieldOf.get(S)!;
          coef.set(f, (coef.get(f) ?? 0) + (popcount(S & E) & 1 ? -1 : 1));
        }
        if (S === 0) break;
      }
    }
    out.push(Int32Array.from([...coef].filter(([, c]) => c !== 0).flat()));
  }
  forms.set(l, out);
  return out;
}

/** What a helper keeps from decide to pick. */
export interface Held {
  isP: boolean;
  /** Its share mod 2^mb of each candidate's count c_i. */
  counts: Uint32Array;
}

/** The outcome of tableMaxDecide, consumed by tableMaxPick (one per batch). */
export interface TableMaxDecision {
  readonly groups: readonly MaxGroups[];
  readonly window: TableMaxWindow;
  readonly chunks: readonly Chunk[];
  readonly held: ReadonlyMap<PartyId, Held>;
}

export function checkParts(parts: readonly AShare[], groups: readonly MaxGroups[], what: string): void {
  if (parts.length !== groups.length || parts.some((x, i) => numel(x) !== groups[i].units * groups[i].arity)) {
    throw new Error(`tableMax: ${what} must be ${groups.length} shares of [units, arity] = ${groups.map((g) => `[${g.units}, ${g.arity}]`).join(', ')}`);
  }
}
