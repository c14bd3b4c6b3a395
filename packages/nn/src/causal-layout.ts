/**
 * Row layout of a softmax over [..., queries, cols] with an optional causal mask (query i sees keys
 * j <= i + queryOffset): which entries are visible, and the local (message-free) index maps that gather them
 * and scatter results back. The mask is public structure, so these are public permutations and copies of
 * shares, the same at every party.
 * Why a layout: row i's visible keys are the prefix of width w_i = min(cols, i + offset + 1), the same for every
 * leading index (head). Laid out query-major, [queries * lead, cols], the rows sharing a width are consecutive:
 * runs of equal widths form blocks (max.ts RowBlock), whose candidates the max compares, and whose prefixes
 * exp evaluates (softmax.ts), so neither touches a masked entry. Without a mask, one block of every row at
 * full width and no permutation.
 * Cost: none (local copies).
 */
import { concatFlat, concatLast, publicShare, reshape, sliceFlat, transpose, type AShare, type Party } from '@puma/protocol';
import { blockPrefixes, type RowBlock } from './max.ts';

/** A causal mask as the cost functions need it: the offset and the query rows per leading index. */
export interface CausalShape {
  queryOffset: number;
  queries: number;
}

export interface RowLayout {
  /** Rows (query-major) and the runs of rows sharing a visible width. */
  rows: number;
  cols: number;
  blocks: RowBlock[];
  /** Visible entries in all. */
  visible: number;
  /** x [..., queries, cols] to [rows, cols] query-major (inner = cols), or [..., queries] maxima to [rows] (inner = 1). */
  toRows(p: Party, x: AShare, inner: number): AShare;
  /** The inverse: [rows * inner] back to the leading axes' order, shaped `shape`. */
  fromRows(p: Party, x: AShare, shape: readonly number[], inner: number): AShare;
}

function checkOffset(offset: number): void {
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`softmax: causal queryOffset must be a non-negative integer, got ${offset}`);
}

/** Blocks of `lead` heads of `queries` rows each, query-major: runs of query rows with one visible width. */
function causalBlocks(lead: number, queries: number, cols: number, offset: number): RowBlock[] {
  const blocks: RowBlock[] = [];
  for (let i = 0; i < queries; i++) {
    const width = Math.min(cols, i + offset + 1);
    const last = blocks[blocks.length - 1];
    if (last && last.width === width) last.rows += lead;
    else blocks.push({ rows: lead, width });
  }
  return blocks;
}

const visibleOf = (blocks: readonly RowBlock[]): number => blocks.reduce((s, b) => s + b.rows * b.width, 0);

/** [a, b, inner] -> [b, a, inner], flattened; a copy only when both a and b exceed 1. */
function swapLeading(p: Party, x: AShare, a: number, b: number, inner: number): AShare {
  if (a === 1 || b === 1) return reshape(x, [a * b * inner]);
  return reshape(transpose(p, reshape(x, [a, b, inner]), [1, 0, 2]), [a * b * inner]);
}

/** The layout of rows x cols entries (rows counts every leading axis) with `queries` query rows per leading index. */
export function layoutOf(rows: number, cols: number, causal?: CausalShape): RowLayout {
  if (!causal) {
    const blocks = [{ rows, width: cols }];
    return {
      rows, cols, blocks, visible: rows * cols,
      toRows: (_p, x, inner) => reshape(x, [rows, inner]),
      fromRows: (_p, x, shape) => reshape(x, shape),
    };
  }
  const { queries, queryOffset } = causal;
  checkOffset(queryOffset);
  if (!Number.isInteger(queries) || queries < 1 || rows % queries !== 0) throw new Error(`softmax: ${rows} rows are not whole heads of ${queries} query rows`);
  const lead = rows / queries;
  const blocks = causalBlocks(lead, queries, cols, queryOffset);
  return {
    rows, cols, blocks, visible: visibleOf(blocks),
    toRows: (p, x, inner) => reshape(swapLeading(p, x, lead, queries, inner), [rows, inner]),
    fromRows: (p, x, shape, inner) => reshape(swapLeading(p, x, queries, lead, inner), shape),
  };
}

/** The layout of a share x of shape [..., queries, cols] (queries = x's second-to-last axis under a mask). */
export function layoutOfShape(shape: readonly number[], queryOffset?: number): RowLayout {
  const cols = shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((s, v) => s * v, 1);
  if (queryOffset === undefined) return layoutOf(rows, cols);
  if (shape.length < 2) throw new Error(`softmax: a causal mask needs [..., rows, cols], got [${shape.join(', ')}]`);
  return layoutOf(rows, cols, { queryOffset, queries: shape[shape.length - 2] });
}

/** The visible prefixes of x [rows, cols] (query-major), flattened block by block: [visible]. */
export function gatherVisible(p: Party, x: AShare, layout: RowLayout): AShare {
  if (layout.visible === layout.rows * layout.cols) return reshape(x, [layout.visible]);
  return concatFlat(p, blockPrefixes(p, x, layout.blocks));
}

/** gatherVisible's inverse: [visible] back to [rows, cols] with every masked entry exactly 0. */
export function scatterVisible(p: Party, v: AShare, layout: RowLayout): AShare {
  if (layout.visible === layout.rows * layout.cols) return reshape(v, [layout.rows, layout.cols]);
  let at = 0;
  const parts = layout.blocks.map((b) => {
    const prefix = sliceFlat(p, v, at, [b.rows, b.width]);
    at += b.rows * b.width;
    return b.width === layout.cols ? prefix : concatLast(p, prefix, publicShare(p, [b.rows, layout.cols - b.width], 0n));
  });
  return reshape(concatFlat(p, parts), [layout.rows, layout.cols]);
}
