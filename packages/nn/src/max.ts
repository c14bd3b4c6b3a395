/**
 * Row maximum over the last axis with a wider tournament than the protocol's binary tree, to trade bytes for
 * rounds (PUMA section 4 uses the binary tree: 11 rounds per halving here).
 *
 * Each level splits the columns into groups of `arity` (the last group padded with copies of the row's last
 * column; a copy never beats its original) and compares every pair in a group in one batched lessThan.
 * Candidate i of a group wins iff it is strictly greater than every earlier member and at least every later
 * one, so exactly one member wins even with ties (the first maximum):
 *   win_i = prod_{j<i} [a_j < a_i] * prod_{j>i} (1 - [a_i < a_j]).
 * One b2a turns the pair bits into 0/1 ring values; win_i * a_i is a product of `arity` factors, computed as
 * a balanced tree of exact ring products (ceil(log2 arity) rounds); the group max is the sum over i.
 * Rounds per level: 8 + 2 + ceil(log2 arity): 12 for arity 3-4 (a factor 4 fewer columns, where the binary
 * tree needs 22), 13 for 5-8, 14 for 9-16. Bytes per level and group: arity(arity-1)/2 comparisons at 241
 * bits and b2a words, plus arity(arity-1) ring products. Exact: the result is one of the inputs.
 * arity 2 delegates to the protocol's maxLast.
 */
import { add, addPublicRaw, b2a, b2aCost, concatFlat, concatLast, lessThan, lessThanCost, maxLast, maxLastCost, mulRaw, mulRawCost, neg, reshape, seq, sliceLast, splitFlat, type AShare, type Cost, type Party } from '@puma/protocol';
import { ZERO_COST } from './fixed.ts';

interface Level {
  width: number;
  arity: number;
  groups: number;
}

function levels(cols: number, arity: number): Level[] {
  const out: Level[] = [];
  for (let w = cols; w > 1; ) {
    const a = Math.min(arity, w);
    const groups = Math.ceil(w / a);
    out.push({ width: w, arity: a, groups });
    w = groups;
  }
  return out;
}

/** Factor counts level by level of a balanced product tree over `count` factors. */
function treeProducts(count: number): number[] {
  const out: number[] = [];
  for (let c = count; c > 1; c = Math.ceil(c / 2)) out.push(Math.floor(c / 2));
  return out;
}

function checkArity(arity: number): void {
  if (!Number.isInteger(arity) || arity < 2 || arity > 32) throw new Error(`max: arity ${arity} must be an integer in [2, 32]`);
}

export function maxLastWideCost(rows: number, cols: number, arity: number): Cost {
  checkArity(arity);
  if (arity === 2) return maxLastCost(rows, cols);
  let c = ZERO_COST;
  for (const lv of levels(cols, arity)) {
    const pairs = (lv.arity * (lv.arity - 1)) / 2;
    const units = rows * lv.groups;
    c = seq(c, lessThanCost(units * pairs), b2aCost(units * pairs), ...treeProducts(lv.arity).map((k) => mulRawCost(units * lv.arity * k)));
  }
  return c;
}

/** Maximum over the last axis: [..., cols] -> [...]. */
export function maxLastWide(p: Party, x: AShare, arity = 4): Promise<AShare> {
  checkArity(arity);
  const cols = x.shape[x.shape.length - 1];
  if (!cols) throw new Error('max over an empty axis');
  if (arity === 2) return maxLast(p, x).then((r) => r.max);
  return p.profile('maxWide', async () => {
    const outer = x.shape.slice(0, -1);
    const rows = x.s0.length / cols;
    let v = reshape(x, [rows, cols]);
    for (const lv of levels(cols, arity)) {
      const a = lv.arity;
      const padded = lv.groups * a;
      if (padded > lv.width) {
        const last = sliceLast(p, v, lv.width - 1, 1);
        for (let k = lv.width; k < padded; k++) v = concatLast(p, v, last);
      }
      const g = reshape(v, [rows * lv.groups, a]);
      const member = Array.from({ length: a }, (_, i) => sliceLast(p, g, i, 1));
      const pairs: Array<[number, number]> = [];
      for (let i = 0; i < a; i++) for (let j = i + 1; j < a; j++) pairs.push([i, j]);
      const less = await b2a(p, await lessThan(p, concatFlat(p, pairs.map(([i]) => member[i])), concatFlat(p, pairs.map(([, j]) => member[j]))));
      const unit = member[0].shape;
      const lt = splitFlat(p, less, pairs.map(() => unit));
      const ltOf = new Map(pairs.map(([i, j], k) => [`${i},${j}`, lt[k]]));
      // Factors of candidate i: the pair indicators that make it the first maximum, then its value.
      const factors = member.map((m, i) => {
        const f: AShare[] = [];
        for (let j = 0; j < a; j++) {
          if (j < i) f.push(ltOf.get(`${j},${i}`) as AShare);
          if (j > i) f.push(addPublicRaw(p, neg(p, ltOf.get(`${i},${j}`) as AShare), 1n));
        }
        f.push(m);
        return f;
      });
      let cur = factors;
      while (cur[0].length > 1) {
        const half = Math.floor(cur[0].length / 2);
        const lhs = concatFlat(p, cur.flatMap((f) => f.slice(0, 2 * half).filter((_, k) => k % 2 === 0)));
        const rhs = concatFlat(p, cur.flatMap((f) => f.slice(0, 2 * half).filter((_, k) => k % 2 === 1)));
        const prods = splitFlat(p, await mulRaw(p, lhs, rhs), Array.from({ length: a * half }, () => unit));
        cur = cur.map((f, i) => [...prods.slice(i * half, (i + 1) * half), ...f.slice(2 * half)]);
      }
      v = reshape(cur.map((f) => f[0]).reduce((s, t) => add(p, s, t)), [rows, lv.groups]);
    }
    return reshape(v, outer);
  });
}
