/**
 * Row maximum over the last axis for softmax: a tournament of all-pairs groups on narrow comparisons, to trade
 * a few comparisons for rounds (PUMA section 4 uses a binary tree of full comparisons: 10 rounds per halving
 * here, see protocol max.ts).
 *
 * Each level splits the columns into groups of up to `arity` (the last group padded with copies of the row's
 * last column) and compares every pair in a group in one batched narrow comparison (protocol
 * narrowCompare.ts, 18-bit window, by dealer tables: 2 rounds, about 89 bits). Candidate i of a group wins iff it beats every earlier
 * member strictly and every later one weakly,
 *   win_i = AND_{j<i} [a_j < a_i]  AND  AND_{j>i} NOT [a_i < a_j],
 * an AND tree over a - 1 bits (ceil(log2(a - 1)) rounds of 1-bit gates); then each win bit times its value
 * (protocol bitMul.ts, 2 rounds) and the group max = sum_i win_i a_i. A level whose extra bytes cost less
 * than the rounds they save on PUMA's LAN (byTableMax) instead takes protocol tableMax.ts: the same comparisons
 * on the same window with arithmetic outputs, counted into each candidate's losses (its rank) in round 1, rank
 * 0 looked up in round 2, resharing in round 3, with the same winner (the first of the largest a_i').
 * Why it is safe on noisy comparisons: the window compares a_i' = floor(a_i / 2^d) - e_i, and every copy of
 * one share gets the same a_i', so the answers follow one total order of the a_i': exactly one winner per
 * group (the first of the largest a_i'), never none or two.
 * Error: the result is always one of the inputs (exact ring values), at most 3 * 2^-7 below the group's true
 * maximum per level (pairs closer than that may be decided either way; 0.0234 for 32 columns, one level).
 * Domain: differences within a row below 1024 - 2^-5 (the window's; beyond it a comparison is arbitrary and so
 * is the result).
 * Rounds per level: 3 by tableMax; by the tournament 2 + ceil(log2(a - 1)) + 2: 9 for one group of 32 columns
 * (13 with the 6-round carry circuit; the arity-8 tournament on 64-bit comparisons before that: 25), 15 for 128
 * columns in two levels (23); by tableMax 3 and 6. Bytes per level and group: by the tournament a(a-1)/2 table
 * comparisons at about 89 bits, a(a-2) AND gates at 1 bit, and 2a words of bit times value; by tableMax 465 bits
 * per pair and 2 * 2^ceil(log2 a) words per candidate in all (its header gives the split).
 * Row blocks (a causal softmax's visible prefixes, causal-layout.ts): the rows come in runs whose candidates
 * are their first `width` columns; masked columns are never read. Each level batches every block's groups into
 * one comparison and one AND per tree level, a narrower block in groups of at most that level's arity for the
 * widest (so it is never deeper), and the selection into one bit times value: the widest block's rounds, the
 * candidates' bytes (GPT-2-base's 32-token causal prompt: 5,456 pairs per head instead of 15,872).
 * Comparing one scale, picking another (maxLastWideBeside): the first level may compare a copy of the input at
 * more fraction bits (a matmul's untruncated product at 2f, right after its 1-round reshare) with a window that
 * drops correspondingly more bits, while a parallel branch produces the values it picks (the truncation of that
 * product). The window's decisions are the same in real units (same 18 bits, same 2^-7 resolution), so the
 * bound above holds against the compared values; the picked value differs from the compared one by the
 * truncation's 1 ulp, so the result is within 3 * 2^-7 + 2^-f per level of the picked values' maximum. Later
 * levels compare picked values. Rounds: the branch's and the first level's decisions in parallel, then the
 * selection: by tableMax 4 rounds from the reshare of a product of up to 32 columns (the truncation's 2, then
 * tableMax's pick 2), against 5 from matmul's fused truncation (2) plus the max (3); by the tournament 14 (the
 * truncation's 2 hide under the comparison and AND tree's 11, then the selection).
 * Paper: PUMA (arXiv 2307.12533) section 4 (softmax's max); the comparison window after Ditto/Nimbus ring
 * casting and HummingBird's bit windows (MLSys 2024); the all-pairs groups are this package's.
 */
import {
  add, andCost, andGates, bitWords, bShare, concatFlat, concatLast, fixedPointWindow, lessThanNarrow, lessThanNarrowCost, mulBitMany, mulBitManyCost, NARROW_BITS, numel,
  planeWords, reshape, sameShape, seq, sliceFlat, sliceLast, splitFlat, tableMaxDecide, tableMaxDecideCost, tableMaxPick, tableMaxPickCost,
  type AShare, type BitWords, type BShare, type CompareWindow, type Cost, type MaxGroups, type Party, type TableMaxDecision,
} from '@puma/protocol';
import { LAN_BYTES_PER_ROUND, par, worthOnLan, ZERO_COST } from './fixed.ts';

/** Default largest group: rows of up to 32 columns take one level. */
export const MAX_GROUP = 32;
/** Largest group accepted (an AND tree of 10 levels). */
const MAX_ARITY = 1025;

interface Level {
  width: number;
  arity: number;
  groups: number;
}

/**
 * Rows of a max in runs: `rows` consecutive rows whose candidates are their first `width` columns (a causal
 * softmax's visible prefixes, causal-layout.ts; without a mask one block of every row at full width).
 */
export interface RowBlock {
  rows: number;
  width: number;
}

/**
 * Group sizes level by level for `rows` rows of `cols`, groups of at most `arity`: as few levels as `arity`
 * allows (each level costs at least 4 rounds), and among those plans the least time on PUMA's LAN, rounds x
 * LAN_BYTES_PER_ROUND + rows x bytes (one row's declared cost, levelCosts). Small groups first: a level's pairs
 * are about width (a - 1) / 2, so the widest level wants the smallest groups its round budget allows (128
 * columns on the 6-round comparisons: 15 groups of 9 then one of 15, 645 pairs a row, instead of 8 of 17 then 8,
 * 1,088 with padding; both 23 rounds). Each candidate group size is evened out to the fewest columns that keep its number of groups.
 */
function levels(cols: number, arity: number, rows: number): readonly Level[] {
  const key = `${cols} ${arity} ${rows}`;
  const known = planned.get(key);
  if (known) return known;
  if (planned.size >= PLANNED_LIMIT) planned.clear();
  const plan = planLevels(cols, arity, rows);
  planned.set(key, plan);
  return plan;
}

/**
 * Plans already made (a pure function of the shape): a model's plan and run ask for the same few shapes at every
 * layer and step, and a plan of 1,024 columns takes about 20 ms. Bounded; cleared when full.
 */
const planned = new Map<string, readonly Level[]>();
const PLANNED_LIMIT = 4096;

function planLevels(cols: number, arity: number, rows: number): Level[] {
  type Plan = { depth: number; rounds: number; bytes: number; plan: Level[] };
  const time = (q: Plan) => q.rounds * LAN_BYTES_PER_ROUND + rows * q.bytes;
  const memo = new Map<number, Plan>();
  const best = (w: number): Plan => {
    const known = memo.get(w);
    if (known) return known;
    // Groups of 2 always qualify (ceil(w / ceil(w / 2)) = 2), so a plan exists for every w >= 2.
    let out: Plan = { depth: 0, rounds: 0, bytes: 0, plan: [] };
    for (let a = 2; a <= Math.min(arity, w); a++) {
      const groups = Math.ceil(w / a);
      if (Math.ceil(w / groups) !== a) continue;
      const { decide, pick } = levelCosts([{ units: groups, arity: a }]);
      const rest = best(groups);
      const q: Plan = { depth: rest.depth + 1, rounds: decide.rounds + pick.rounds + rest.rounds, bytes: decide.bytes[0] + pick.bytes[0] + rest.bytes, plan: [{ width: w, arity: a, groups }, ...rest.plan] };
      if (a === 2 || q.depth < out.depth || (q.depth === out.depth && time(q) < time(out))) out = q;
    }
    memo.set(w, out);
    return out;
  };
  return best(cols).plan;
}

/**
 * Levels of every block: the widest block's plan (levels above), and each narrower block in groups of at most
 * that level's arity, so no level's AND tree is deeper than the widest's and every level is one batch (a
 * block narrower than a level's arity is one group and is done after it).
 */
function blockLevels(blocks: readonly RowBlock[], arity: number): Level[][] {
  const plan = levels(Math.max(...blocks.map((b) => b.width)), arity, blocks.reduce((sum, b) => sum + b.rows, 0));
  return blocks.map((b) => {
    const out: Level[] = [];
    for (let L = 0, w = b.width; w > 1; L++) {
      const a = Math.min(plan[L].arity, w);
      const groups = Math.ceil(w / a);
      out.push({ width: w, arity: a, groups });
      w = groups;
    }
    return out;
  });
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

/** The blocks (default: every row at full width), checked against rows x cols. */
function blocksOf(rows: number, cols: number, blocks: readonly RowBlock[] | undefined): readonly RowBlock[] {
  if (!blocks) return [{ rows, width: cols }];
  const total = blocks.reduce((s, b) => s + b.rows, 0);
  if (total !== rows || blocks.some((b) => !Number.isInteger(b.rows) || b.rows < 1 || !Number.isInteger(b.width) || b.width < 1 || b.width > cols)) {
    throw new Error(`max: row blocks must cover ${rows} rows with widths in [1, ${cols}], got ${JSON.stringify(blocks)}`);
  }
  return blocks;
}

/** The groups of every block that takes part in level L: units (groups of all its rows) and arity. */
function levelParts(blocks: readonly RowBlock[], plans: Level[][], L: number): Array<{ block: number; units: number; arity: number; groups: number }> {
  return blocks.flatMap((b, block) => {
    const lv = plans[block][L];
    return lv ? [{ block, units: b.rows * lv.groups, arity: lv.arity, groups: lv.groups }] : [];
  });
}

/**
 * A level's comparisons sit on softmax's critical path. By dealer tables (protocol tableCompare.ts) they take 2
 * rounds instead of 6, for about 30 more bits per pair and party (about 200 from party 0 below ROTATE_FROM pairs)
 * and several times the CPU: taken while the extra bytes cost less than the 4 rounds on PUMA's LAN
 * (LAN_BYTES_PER_ROUND each), e.g. GPT-2-base's causal 32-token prompt (65,472 pairs a layer) and every decoding
 * step, not BERT-base's 128 x 128 rows (about 1.5 million pairs a layer).
 */
function pairWindow(pairs: number, w: CompareWindow): CompareWindow {
  const tables = lessThanNarrowCost(pairs, { ...w, tables: true });
  const circuit = lessThanNarrowCost(pairs, { ...w, tables: false });
  return { ...w, tables: worthOnLan(circuit.rounds - tables.rounds, Math.max(...tables.bytes) - Math.max(...circuit.bytes)) };
}

/** A level's costs by the tournament: its comparisons and AND tree (one batch per tree level over every block), and its selection. */
function treeCosts(parts: readonly MaxGroups[]): { decide: Cost; pick: Cost } {
  const pairs = parts.reduce((s, g) => s + (g.units * g.arity * (g.arity - 1)) / 2, 0);
  const gates: number[] = [];
  for (const g of parts) treeGates(g.arity - 1).forEach((k, t) => { gates[t] = (gates[t] ?? 0) + g.units * g.arity * k; });
  return {
    decide: seq(lessThanNarrowCost(pairs, pairWindow(pairs, { drop: 0, bits: NARROW_BITS })), ...gates.map((k) => andCost(planeWords(k)))),
    pick: mulBitManyCost(parts.reduce((s, g) => s + g.units * g.arity, 0)),
  };
}

const TABLE_WINDOW = { drop: 0, bits: NARROW_BITS };

/** A level's costs by protocol tableMax.ts: 1 round to decide, 2 to pick. */
function tableCosts(parts: readonly MaxGroups[]): { decide: Cost; pick: Cost } {
  return { decide: tableMaxDecideCost(parts, TABLE_WINDOW), pick: tableMaxPickCost(parts, TABLE_WINDOW) };
}

/**
 * Does a level take protocol tableMax.ts (3 rounds: arithmetic comparison outputs counted into ranks, a lookup
 * of rank 0) instead of the tournament (comparisons, AND tree, bit times value)? While its extra bytes cost less
 * than the rounds it saves on PUMA's LAN, as pairWindow decides for the comparisons alone: GPT-2-base's causal
 * prompt and every decoding step, not BERT-base's first level of 128 x 128 rows.
 */
function byTableMax(parts: readonly MaxGroups[]): boolean {
  const tree = treeCosts(parts);
  const tables = tableCosts(parts);
  const rounds = (c: { decide: Cost; pick: Cost }) => c.decide.rounds + c.pick.rounds;
  const bytes = (c: { decide: Cost; pick: Cost }) => Math.max(...c.decide.bytes) + Math.max(...c.pick.bytes);
  return worthOnLan(rounds(tree) - rounds(tables), bytes(tables) - bytes(tree));
}

/** One level's costs, by whichever way byTableMax picks. */
function levelCosts(parts: readonly MaxGroups[]): { decide: Cost; pick: Cost } {
  return byTableMax(parts) ? tableCosts(parts) : treeCosts(parts);
}

function levelCostsOf(rows: number, cols: number, arity: number, blocks: readonly RowBlock[] | undefined): Array<{ decide: Cost; pick: Cost }> {
  checkArity(arity);
  const bl = blocksOf(rows, cols, blocks);
  const plans = blockLevels(bl, arity);
  const depth = Math.max(...plans.map((l) => l.length));
  return Array.from({ length: depth }, (_, L) => levelCosts(levelParts(bl, plans, L)));
}

export function maxLastWideCost(rows: number, cols: number, arity = MAX_GROUP, blocks?: readonly RowBlock[]): Cost {
  return seq(ZERO_COST, ...levelCostsOf(rows, cols, arity, blocks).map((c) => seq(c.decide, c.pick)));
}

/** maxLastWideBeside's cost, with `values` the cost of the branch that produces the picked values. */
export function maxLastWideBesideCost(rows: number, cols: number, values: Cost, arity = MAX_GROUP, blocks?: readonly RowBlock[]): Cost {
  const [first, ...rest] = levelCostsOf(rows, cols, arity, blocks);
  if (!first) return values;
  return seq(par(values, first.decide), first.pick, ...rest.map((r) => seq(r.decide, r.pick)));
}

/** Boolean bits as 0/1 words (protocol bitWords) are rearranged with word slices, then packed again. */
function pack(p: Party, w: BitWords): BShare {
  const be = p.backend;
  const n = w.s0.length;
  const W = planeWords(n);
  return bShare(n, 1, be.slice(be.toBitPlanes(w.s0), 0, W), be.slice(be.toBitPlanes(w.s1), 0, W));
}

/** NOT of a boolean share: flip component 0 (party 0's s0, party 2's s1). */
function not(p: Party, w: BitWords): BitWords {
  const be = p.backend;
  return { n: w.n, s0: p.id === 0 ? be.not(w.s0) : w.s0, s1: p.id === 2 ? be.not(w.s1) : w.s1 };
}

const cat = (p: Party, ws: BitWords[]): BitWords => ({ n: ws.reduce((t, w) => t + w.n, 0), s0: p.backend.concat(ws.map((w) => w.s0)), s1: p.backend.concat(ws.map((w) => w.s1)) });
const part = (p: Party, w: BitWords, start: number, count: number): BitWords => ({ n: count, s0: p.backend.slice(w.s0, start, count), s1: p.backend.slice(w.s1, start, count) });

/** One block's groups at a level: g [units, arity]. */
interface Groups {
  g: AShare;
  units: number;
  arity: number;
}

/**
 * One level's decisions on every block's groups at once: candidate i's win bit, block after block, each
 * [arity * units] (candidate-major). One batch of comparisons, then one batch of AND gates per tree level.
 */
async function winBits(p: Party, parts: readonly Groups[], w: CompareWindow): Promise<BShare> {
  const members = parts.map(({ g, arity }) => Array.from({ length: arity }, (_, i) => sliceLast(p, g, i, 1)));
  const pairs = parts.map(({ arity }) => {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < arity; i++) for (let j = i + 1; j < arity; j++) out.push([i, j]);
    return out;
  });
  const lhs = concatFlat(p, pairs.flatMap((ps, b) => ps.map(([i]) => members[b][i])));
  const rhs = concatFlat(p, pairs.flatMap((ps, b) => ps.map(([, j]) => members[b][j])));
  const less = bitWords(p, await lessThanNarrow(p, lhs, rhs, pairWindow(numel(lhs), w)));
  // Factors of each candidate (block by block): the pair bits that make it its group's first maximum.
  let at = 0;
  let factors: BitWords[][] = parts.flatMap(({ units, arity }, b) => {
    const base = at;
    at += pairs[b].length * units;
    const lt = new Map(pairs[b].map(([i, j], k) => [`${i},${j}`, part(p, less, base + k * units, units)]));
    return Array.from({ length: arity }, (_, i) => {
      const f: BitWords[] = [];
      for (let j = 0; j < arity; j++) {
        if (j < i) f.push(lt.get(`${j},${i}`) as BitWords);
        if (j > i) f.push(not(p, lt.get(`${i},${j}`) as BitWords));
      }
      return f;
    });
  });
  while (factors.some((f) => f.length > 1)) {
    const halves = factors.map((f) => Math.floor(f.length / 2));
    const lhsBits = pack(p, cat(p, factors.flatMap((f, c) => f.slice(0, 2 * halves[c]).filter((_, k) => k % 2 === 0))));
    const rhsBits = pack(p, cat(p, factors.flatMap((f, c) => f.slice(0, 2 * halves[c]).filter((_, k) => k % 2 === 1))));
    const prod = bitWords(p, { ...lhsBits, ...(await andGates(p, lhsBits, rhsBits)) });
    let off = 0;
    factors = factors.map((f, c) => {
      if (halves[c] === 0) return f;
      const n = f[0].s0.length;
      const done = Array.from({ length: halves[c] }, (_, k) => part(p, prod, off + k * n, n));
      off += halves[c] * n;
      return [...done, ...f.slice(2 * halves[c])];
    });
  }
  return pack(p, cat(p, factors.map((f) => f[0])));
}

/** Each block's group maxima [units] from its groups: each win bit times its candidate, summed. */
async function pickWinners(p: Party, wins: BShare, parts: readonly Groups[]): Promise<AShare[]> {
  const members = parts.map(({ g, units, arity }) => Array.from({ length: arity }, (_, i) => reshape(sliceLast(p, g, i, 1), [units])));
  const [picked] = await mulBitMany(p, wins, [concatFlat(p, members.flat())]);
  const products = splitFlat(p, picked, members.flat().map((m) => m.shape));
  // Exactly one win bit per group is 1: the sum over candidates is the winner's value.
  let at = 0;
  return members.map((m) => {
    const mine = products.slice(at, (at += m.length));
    return mine.reduce((acc, t) => add(p, acc, t));
  });
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

/** Each block's candidates: its rows of x [rows, cols], first `width` columns (local slices). */
export function blockPrefixes(p: Party, x: AShare, blocks: readonly RowBlock[]): AShare[] {
  const cols = x.shape[x.shape.length - 1];
  let row = 0;
  return blocks.map((b) => {
    const rowsOf = sliceFlat(p, x, row * cols, [b.rows, cols]);
    row += b.rows;
    return b.width === cols ? rowsOf : sliceLast(p, rowsOf, 0, b.width);
  });
}

/** Level L's groups of every block that takes part (cur: each block's [rows, width at L]). */
function groupsAt(p: Party, cur: readonly AShare[], blocks: readonly RowBlock[], plans: Level[][], L: number): Groups[] {
  return levelParts(blocks, plans, L).map(({ block, units, arity }) => ({ g: padGroups(p, cur[block], blocks[block].rows, plans[block][L]), units, arity }));
}

/** A level's decisions: win bits of the tournament, or the tables' ranks (protocol tableMax.ts). */
type Decided = { kind: 'tree'; wins: BShare } | { kind: 'tables'; decision: TableMaxDecision };

/** Level decisions on every block's groups at once, the way byTableMax picks for them. */
async function decideLevel(p: Party, parts: readonly Groups[], w: CompareWindow): Promise<Decided> {
  if (byTableMax(parts.map(({ units, arity }) => ({ units, arity })))) return { kind: 'tables', decision: await tableMaxDecide(p, parts.map((g) => g.g), w) };
  return { kind: 'tree', wins: await winBits(p, parts, w) };
}

/** Level L's winners picked from `values` (each block's [rows, width at L]): each block's [rows, width at L + 1]. */
async function pickLevel(p: Party, decided: Decided, values: readonly AShare[], blocks: readonly RowBlock[], plans: Level[][], L: number): Promise<AShare[]> {
  const parts = levelParts(blocks, plans, L);
  const candidates = groupsAt(p, values, blocks, plans, L);
  const maxima = decided.kind === 'tables' ? await tableMaxPick(p, decided.decision, candidates.map((g) => g.g)) : await pickWinners(p, decided.wins, candidates);
  const next = [...values];
  parts.forEach(({ block, groups }, k) => { next[block] = reshape(maxima[k], [blocks[block].rows, groups]); });
  return next;
}

/** Levels from `from` on, each block at its width there: the maxima, each block's [rows, 1]. */
async function remainingLevels(p: Party, cur: AShare[], blocks: readonly RowBlock[], plans: Level[][], from: number, window: CompareWindow): Promise<AShare[]> {
  const depth = Math.max(...plans.map((l) => l.length));
  let v = cur;
  for (let L = from; L < depth; L++) v = await pickLevel(p, await decideLevel(p, groupsAt(p, v, blocks, plans, L), window), v, blocks, plans, L);
  return v;
}

function emptyCheck(x: AShare): number {
  const cols = x.shape[x.shape.length - 1];
  if (!cols) throw new Error('max over an empty axis');
  return cols;
}

/**
 * Maximum (within 3 * 2^-7 per level, see the header) over the last axis: [..., cols] -> [...]. With
 * `blocks` (rows of x in runs), each row's maximum over its block's first `width` columns only.
 */
export function maxLastWide(p: Party, x: AShare, arity = MAX_GROUP, blocks?: readonly RowBlock[]): Promise<AShare> {
  checkArity(arity);
  const cols = emptyCheck(x);
  return p.profile('maxWide', async () => {
    const rows = x.s0.length / cols;
    const bl = blocksOf(rows, cols, blocks);
    const plans = blockLevels(bl, arity);
    const m = await remainingLevels(p, blockPrefixes(p, reshape(x, [rows, cols]), bl), bl, plans, 0, fixedPointWindow(p.fracBits));
    return reshape(concatFlat(p, m), x.shape.slice(0, -1));
  });
}

/**
 * The maximum over the last axis of the values `values` produces (a parallel branch, e.g. a truncation),
 * whose first level compares `compare` instead: the same quantities at `compareFracBits` fraction bits, same
 * shape (see the header). Returns the maximum [...] and the values. `blocks` as in maxLastWide.
 */
export function maxLastWideBeside(
  p: Party, compare: AShare, compareFracBits: number, values: (q: Party) => Promise<AShare>, arity = MAX_GROUP, blocks?: readonly RowBlock[],
): Promise<{ max: AShare; values: AShare }> {
  checkArity(arity);
  const cols = emptyCheck(compare);
  return p.profile('maxWide', async () => {
    const rows = compare.s0.length / cols;
    const bl = blocksOf(rows, cols, blocks);
    const plans = blockLevels(bl, arity);
    const first = groupsAt(p, blockPrefixes(p, reshape(compare, [rows, cols]), bl), bl, plans, 0);
    const [v, wins] = await p.parallel(values, async (q) => (first.length ? decideLevel(q, first, fixedPointWindow(compareFracBits)) : undefined));
    sameShape(compare, v, 'maxLastWideBeside');
    let cur = blockPrefixes(p, reshape(v, [rows, cols]), bl);
    if (wins) cur = await remainingLevels(p, await pickLevel(p, wins, cur, bl, plans, 0), bl, plans, 1, fixedPointWindow(p.fracBits));
    return { max: reshape(concatFlat(p, cur), compare.shape.slice(0, -1)), values: v };
  });
}
