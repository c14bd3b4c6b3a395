/**
 * Maximum (and argmax) along the last axis by a tournament tree (PUMA section 4, softmax's row max): each
 * level compares the first half of the columns with the second half in one batched comparison and selects
 * the larger; an odd column passes through. ceil(log2 cols) levels, each a lessThan (8 rounds) and a select
 * (2 rounds, select.ts). The argmax index travels with the value through the same select.
 * Cost: 10 rounds per level; see maxLastCost for bytes. Exact (full 64-bit comparisons); ties keep the
 * earlier column.
 */
import type { Party } from '../party.ts';
import { numel, type AShare } from '../share.ts';
import { cost, seq, type Cost } from '../cost.ts';
import { concatLast, publicShare, reshape, sliceLast } from './linear.ts';
import { lessThan, lessThanCost } from './lessThan.ts';
import { selectCost, selectMany } from './select.ts';

export function maxLastCost(rows: number, cols: number, withArgmax = false): Cost {
  let c = cost(0, 0, 0, 0);
  for (let w = cols; w > 1; w = Math.ceil(w / 2)) {
    const h = Math.floor(w / 2);
    c = seq(c, lessThanCost(rows * h), selectCost(rows * h, withArgmax ? 2 : 1));
  }
  return c;
}

export interface MaxResult {
  max: AShare;
  /** Index of the maximum along the last axis, as an integer (not fixed-point) share. */
  argmax?: AShare;
}

export function maxLast(p: Party, x: AShare, withArgmax = false): Promise<MaxResult> {
  return p.profile('max', async () => {
    const cols = x.shape[x.shape.length - 1];
    if (!cols) throw new Error('max over an empty axis');
    const outer = x.shape.slice(0, -1);
    const rows = numel(x) / cols;
    let v = reshape(x, [rows, cols]);
    let idx: AShare | undefined;
    if (withArgmax) {
      const ids = new BigUint64Array(rows * cols);
      for (let i = 0; i < ids.length; i++) ids[i] = BigInt(i % cols);
      idx = publicShare(p, [rows, cols], ids);
    }
    for (let w = cols; w > 1; w = Math.ceil(w / 2)) {
      const h = Math.floor(w / 2);
      const a = sliceLast(p, v, 0, h);
      const b = sliceLast(p, v, h, h);
      const aLess = await lessThan(p, a, b);
      const pairs: Array<[AShare, AShare]> = [[b, a]];
      if (idx) pairs.push([sliceLast(p, idx, h, h), sliceLast(p, idx, 0, h)]);
      const [m, mi] = await selectMany(p, aLess, pairs);
      v = w % 2 ? concatLast(p, m, sliceLast(p, v, w - 1, 1)) : m;
      if (idx && mi) idx = w % 2 ? concatLast(p, mi, sliceLast(p, idx, w - 1, 1)) : mi;
    }
    return { max: reshape(v, outer), argmax: idx ? reshape(idx, outer) : undefined };
  });
}
