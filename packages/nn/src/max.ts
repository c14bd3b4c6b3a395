/**
 * Row maximum over the last axis for softmax: a tournament of all-pairs groups on narrow comparisons, to trade
 * a few comparisons for rounds (PUMA section 4 uses a binary tree of full comparisons: 10 rounds per halving
 * here, see protocol max.ts).
 *
 * Each level splits the columns into groups of up to `arity` (the last group padded with copies of the row's
 * last column) and compares every pair in a group in one batched narrow comparison (protocol
 * narrowCompare.ts, 18-bit window: 6 rounds, 59 bits). Candidate i of a group wins iff it beats every earlier
 * member strictly and every later one weakly,
 *   win_i = AND_{j<i} [a_j < a_i]  AND  AND_{j>i} NOT [a_i < a_j],
 * an AND tree over a - 1 bits (ceil(log2(a - 1)) rounds of 1-bit gates); then each win bit times its value
 * (protocol bitMul.ts, 2 rounds) and the group max = sum_i win_i a_i.
 * Why it is safe on noisy comparisons: the window compares a_i' = floor(a_i / 2^d) - e_i, and every copy of
 * one share gets the same a_i', so the answers follow one total order of the a_i': exactly one winner per
 * group (the first of the largest a_i'), never none or two.
 * Error: the result is always one of the inputs (exact ring values), at most 3 * 2^-7 below the group's true
 * maximum per level (pairs closer than that may be decided either way; 0.0234 for 32 columns, one level).
 * Domain: differences within a row below 1024 - 2^-5 (the window's; beyond it a comparison is arbitrary and so
 * is the result).
 * Rounds per level: 6 + ceil(log2(a - 1)) + 2: 13 for one group of 32 columns (the arity-8 tournament on
 * 64-bit comparisons it replaces: 25), 23 for 128 columns in groups of 17 then 8. Bytes per level and group:
 * a(a-1)/2 narrow comparisons at 59 bits, a(a-2) AND gates at 1 bit, and 2a words of bit times value.
 * Comparing one scale, picking another (maxLastWideBeside): the first level may compare a copy of the input at
 * more fraction bits (a matmul's untruncated product at 2f, right after its 1-round reshare) with a window that
 * drops correspondingly more bits, while a parallel branch produces the values it picks (the truncation of that
 * product). The window's decisions are the same in real units (same 18 bits, same 2^-7 resolution), so the
 * bound above holds against the compared values; the picked value differs from the compared one by the
 * truncation's 1 ulp, so the result is within 3 * 2^-7 + 2^-f per level of the picked values' maximum. Later
 * levels compare picked values. Rounds: the branch's and the comparisons' in parallel (the truncation's 2 hide
 * under the comparison and AND tree's 11), then the selection: 14 rounds from the reshare of a product
 * of up to 32 columns, against 15 from matmul's fused truncation (2) plus the max (13).
 * Paper: PUMA (arXiv 2307.12533) section 4 (softmax's max); the comparison window after Ditto/Nimbus ring
 * casting and HummingBird's bit windows (MLSys 2024); the all-pairs groups are this package's.
 */
import {
  add, andCost, andGates, bShare, concatFlat, concatLast, fixedPointWindow, lessThanNarrow, lessThanNarrowCost, mulBitMany, mulBitManyCost, NARROW_BITS,
  planeWords, reshape, sameShape, seq, sliceLast, splitFlat, type AShare, type BShare, type CompareWindow, type Cost, type Party,
} from '@puma/protocol';
import { par, ZERO_COST } from './fixed.ts';

/** A backend buffer, named through the share type so nn depends on the protocol package only. */
type Buf = AShare['s0'];

/** Default largest group: rows of up to 32 columns take one level. */
export const MAX_GROUP = 32;
/** Largest group accepted (an AND tree of 10 levels). */
const MAX_ARITY = 1025;

interface Level {
  width: number;
  arity: number;
  groups: number;
}

const log2Ceil = (v: number): number => (v <= 1 ? 0 : Math.ceil(Math.log2(v)));

/**
 * Group sizes level by level: as few levels as `arity` allows, each group as large as its AND tree's depth
 * permits (a - 1 up to a power of two), so later levels get narrower.
 */
function levels(cols: number, arity: number): Level[] {
  const out: Level[] = [];
  let left = Math.max(1, Math.ceil(Math.log(cols) / Math.log(arity) - 1e-9));
  for (let w = cols; w > 1; left = Math.max(1, left - 1)) {
    const even = Math.ceil(w ** (1 / left) - 1e-9);
    const a = Math.min(arity, w, 2 ** log2Ceil(even - 1) + 1);
    const groups = Math.ceil(w / a);
    out.push({ width: w, arity: a, groups });
    w = groups;
  }
  return out;
}

/** AND gates level by level of a balanced tree over `count` bits. */
function treeGates(count: number): number[] {
  const out: number[] = [];
  for (let c = count; c > 1; c = Math.ceil(c / 2)) out.push(Math.floor(c / 2));
  return out;
}

function checkArity(arity: number): void {
  if (!Number.isInteger(arity) || arity < 2 || arity > MAX_ARITY) throw new Error(`max: arity ${arity} must be an integer in [2, ${MAX_ARITY}]`);
}

/** One level: its comparisons and AND tree, and its selection. */
function levelCosts(rows: number, lv: Level): { decide: Cost; pick: Cost } {
  const units = rows * lv.groups;
  const a = lv.arity;
  return {
    decide: seq(lessThanNarrowCost(units * ((a * (a - 1)) / 2), { drop: 0, bits: NARROW_BITS }), ...treeGates(a - 1).map((k) => andCost(planeWords(units * a * k)))),
    pick: mulBitManyCost(units * a),
  };
}

export function maxLastWideCost(rows: number, cols: number, arity = MAX_GROUP): Cost {
  checkArity(arity);
  return seq(ZERO_COST, ...levels(cols, arity).map((lv) => { const c = levelCosts(rows, lv); return seq(c.decide, c.pick); }));
}

/** maxLastWideBeside's cost, with `values` the cost of the branch that produces the picked values. */
export function maxLastWideBesideCost(rows: number, cols: number, values: Cost, arity = MAX_GROUP): Cost {
  checkArity(arity);
  const [first, ...rest] = levels(cols, arity);
  if (!first) return values;
  const c = levelCosts(rows, first);
  return seq(par(values, c.decide), c.pick, ...rest.map((lv) => { const r = levelCosts(rows, lv); return seq(r.decide, r.pick); }));
}

/** Boolean bits as one 0/1 word each (this party's two components), for rearranging with word slices. */
interface BitWords {
  s0: Buf;
  s1: Buf;
}

function unpack(p: Party, b: BShare): BitWords {
  return { s0: p.backend.fromBitPlanes(b.s0, b.n, 1), s1: p.backend.fromBitPlanes(b.s1, b.n, 1) };
}

function pack(p: Party, w: BitWords): BShare {
  const be = p.backend;
  const n = w.s0.length;
  const W = planeWords(n);
  return bShare(n, 1, be.slice(be.toBitPlanes(w.s0), 0, W), be.slice(be.toBitPlanes(w.s1), 0, W));
}

/** NOT of a boolean share: flip component 0 (party 0's s0, party 2's s1). */
function not(p: Party, w: BitWords): BitWords {
  const be = p.backend;
  return { s0: p.id === 0 ? be.not(w.s0) : w.s0, s1: p.id === 2 ? be.not(w.s1) : w.s1 };
}

const cat = (p: Party, ws: BitWords[]): BitWords => ({ s0: p.backend.concat(ws.map((w) => w.s0)), s1: p.backend.concat(ws.map((w) => w.s1)) });
const part = (p: Party, w: BitWords, start: number, count: number): BitWords => ({ s0: p.backend.slice(w.s0, start, count), s1: p.backend.slice(w.s1, start, count) });

/** One level's decisions on groups g of shape [units, a]: candidate i's win bit, [a * units] (candidate-major). */
async function winBits(p: Party, g: AShare, units: number, a: number, w: CompareWindow): Promise<BShare> {
  const member = Array.from({ length: a }, (_, i) => sliceLast(p, g, i, 1));
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < a; i++) for (let j = i + 1; j < a; j++) pairs.push([i, j]);
  const less = unpack(p, await lessThanNarrow(p, concatFlat(p, pairs.map(([i]) => member[i])), concatFlat(p, pairs.map(([, j]) => member[j])), w));
  const lt = new Map(pairs.map(([i, j], k) => [`${i},${j}`, part(p, less, k * units, units)]));
  // Factors of candidate i: the pair bits that make it the first maximum.
  let factors: BitWords[][] = member.map((_, i) => {
    const f: BitWords[] = [];
    for (let j = 0; j < a; j++) {
      if (j < i) f.push(lt.get(`${j},${i}`) as BitWords);
      if (j > i) f.push(not(p, lt.get(`${i},${j}`) as BitWords));
    }
    return f;
  });
  while (factors[0].length > 1) {
    const half = Math.floor(factors[0].length / 2);
    const lhs = pack(p, cat(p, factors.flatMap((f) => f.slice(0, 2 * half).filter((_, k) => k % 2 === 0))));
    const rhs = pack(p, cat(p, factors.flatMap((f) => f.slice(0, 2 * half).filter((_, k) => k % 2 === 1))));
    const prod = unpack(p, { ...lhs, ...(await andGates(p, lhs, rhs)) });
    factors = factors.map((f, i) => [...Array.from({ length: half }, (_, k) => part(p, prod, (i * half + k) * units, units)), ...f.slice(2 * half)]);
  }
  return pack(p, cat(p, factors.map((f) => f[0])));
}

/** The group maxima [units] of groups g [units, a]: each win bit times its candidate, summed. */
async function pickWinners(p: Party, wins: BShare, g: AShare, units: number, a: number): Promise<AShare> {
  const member = Array.from({ length: a }, (_, i) => reshape(sliceLast(p, g, i, 1), [units]));
  const [picked] = await mulBitMany(p, wins, [concatFlat(p, member)]);
  // Exactly one win bit per group is 1: the sum over candidates is the winner's value.
  return splitFlat(p, picked, member.map(() => [units])).reduce((acc, t) => add(p, acc, t));
}

/** x [rows, width] padded with copies of its last column to [rows * groups, arity]. */
function padGroups(p: Party, x: AShare, rows: number, lv: Level): AShare {
  let v = x;
  const padded = lv.groups * lv.arity;
  if (padded > lv.width) {
    const last = sliceLast(p, v, lv.width - 1, 1);
    for (let k = lv.width; k < padded; k++) v = concatLast(p, v, last);
  }
  return reshape(v, [rows * lv.groups, lv.arity]);
}

/** Levels from `from` on, starting at v [rows, levels[from].width]: the maxima [rows]. */
async function remainingLevels(p: Party, v: AShare, rows: number, lvs: Level[], window: CompareWindow): Promise<AShare> {
  let cur = v;
  for (const lv of lvs) {
    const units = rows * lv.groups;
    const g = padGroups(p, cur, rows, lv);
    cur = reshape(await pickWinners(p, await winBits(p, g, units, lv.arity, window), g, units, lv.arity), [rows, lv.groups]);
  }
  return cur;
}

/** Maximum (within 3 * 2^-7 per level, see the header) over the last axis: [..., cols] -> [...]. */
export function maxLastWide(p: Party, x: AShare, arity = MAX_GROUP): Promise<AShare> {
  checkArity(arity);
  const cols = x.shape[x.shape.length - 1];
  if (!cols) throw new Error('max over an empty axis');
  return p.profile('maxWide', async () => {
    const rows = x.s0.length / cols;
    const m = await remainingLevels(p, reshape(x, [rows, cols]), rows, levels(cols, arity), fixedPointWindow(p.fracBits));
    return reshape(m, x.shape.slice(0, -1));
  });
}

/**
 * The maximum over the last axis of the values `values` produces (a parallel branch, e.g. a truncation),
 * whose first level compares `compare` instead: the same quantities at `compareFracBits` fraction bits, same
 * shape (see the header). Returns the maximum [...] and the values.
 */
export function maxLastWideBeside(
  p: Party, compare: AShare, compareFracBits: number, values: (q: Party) => Promise<AShare>, arity = MAX_GROUP,
): Promise<{ max: AShare; values: AShare }> {
  checkArity(arity);
  const cols = compare.shape[compare.shape.length - 1];
  if (!cols) throw new Error('max over an empty axis');
  return p.profile('maxWide', async () => {
    const rows = compare.s0.length / cols;
    const [first, ...rest] = levels(cols, arity);
    if (!first) {
      const v = await values(p);
      sameShape(compare, v, 'maxLastWideBeside');
      return { max: reshape(v, compare.shape.slice(0, -1)), values: v };
    }
    const units = rows * first.groups;
    const [v, wins] = await p.parallel(
      values,
      (q) => winBits(q, padGroups(q, reshape(compare, [rows, cols]), rows, first), units, first.arity, fixedPointWindow(compareFracBits)),
    );
    sameShape(compare, v, 'maxLastWideBeside');
    const level1 = reshape(await pickWinners(p, wins, padGroups(p, reshape(v, [rows, cols]), rows, first), units, first.arity), [rows, first.groups]);
    const m = await remainingLevels(p, level1, rows, rest, fixedPointWindow(p.fracBits));
    return { max: reshape(m, compare.shape.slice(0, -1)), values: v };
  });
}
