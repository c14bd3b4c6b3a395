/**
 * Softmax over the last axis, batched over all leading axes (rows, heads, batch): one call costs the same
 * rounds for any number of rows.
 * Formula (PUMA, arXiv 2307.12533 section 4): m = max_j x_j; e_j = exp(x_j - m) with exp(t) = 0 for t < -14
 * (exp.ts); softmax_j = e_j / sum_k e_k, with one reciprocal per row whose multiplication by e_j is folded
 * into the reciprocal's last steps (inverse.ts, multiplicand e, one divisor per row).
 * Causal mask (`causal: { queryOffset }`, shape [..., rows, cols]): query row i sees keys j <= i + offset.
 * The mask is public structure, never a -3.4e38 constant: masked entries are replaced by the row's column 0
 * (always visible) before the max, so they cannot win it, and their exponentials are multiplied by a public 0,
 * so they contribute exactly 0 to the sum and are exactly 0 in the output.
 * The max is max.ts's tournament of all-pairs groups on narrow comparisons (default groups of up to 32:
 * one level for rows of up to 32 columns, and for any width while the call needs at most 2^16 comparisons). It may return an entry up to 3 * 2^-7 per level below the true
 * maximum, which softmax absorbs: the result is shift-invariant, so only exp's argument moves, by at most
 * 0.0234 above 0 (exp.ts is accurate to 0.025), and each row's sum stays at least 1.
 * Input domain: logits whose visible entries in a row differ by less than 1000 (the narrow window's 1024 less
 * the exp threshold 14 and the slack; beyond it the max and the [x < -14] mask are arbitrary). Entries more
 * than 14 below the max get 0, as before.
 * Asserted max abs error per entry: 2e-3 for spreads up to 30 and at spread 990 (measured 3e-5 to 3.0e-4:
 * the reciprocal's relative error dominates; exp's is 7e-6).
 * Cost: max (13 rounds for up to 32 columns, 23 for 128) + exp (11) + reciprocal with the product folded in
 * (inverse.ts: lanes pre-shifted by the octave and picked by bit times value, 10 rounds; 12 with b2a and the
 * product by phi): 34 rounds at 32 columns, 45 at 128. softmaxCost gives rounds and bytes for any size. With 64-bit comparisons and PUMA's binary
 * tree the max alone took 55 rounds at 32 columns (arity-8 groups of products: 25).
 * Of a product (softmaxLastOfProduct): the scores come as the reshared, untruncated product at 2f fraction
 * bits (matmulRaw, 1 round). The max's first level compares those (max.ts maxLastWideBeside: the same window
 * in real units, dropping f more bits) while their truncation (2 rounds) runs beside the comparisons, so the
 * truncation leaves the critical path: scores plus softmax take 1 + 34 rounds instead of matmul's 2 + 34.
 * The bytes grow by the reshare less the fused truncation's saving (about n/3 words per party; scores are
 * the smallest activations of a layer). Error: the max is within 3 * 2^-7 + 2^-f of the truncated scores'
 * maximum (exp's argument up to 0.0235 above 0, inside exp.ts's accuracy); the asserted bound is unchanged.
 * Domain: the product below 2^62 at 2f fraction bits (|score| < 2^26), the spread as above.
 */
import { add, broadcastLast, mulPublicRawVec, numel, reshape, sliceLast, sub, sumLast, seq, truncate, truncateCost, type AShare, type Cost, type Party } from '@puma/protocol';
import { exp, expCost } from './exp.ts';
import { ceilLog2 } from './fixed.ts';
import { inverse, inverseCost, type InverseOptions } from './inverse.ts';
import { MAX_GROUP, maxLastWide, maxLastWideBeside, maxLastWideBesideCost, maxLastWideCost } from './max.ts';

export interface SoftmaxOptions {
  /** Causal masking for x of shape [..., rows, cols]: row i sees columns j <= i + queryOffset. */
  causal?: { queryOffset: number };
  /** Largest group of the max tournament (max.ts; default: maxGroup below; 2 is a binary tree). */
  maxArity?: number;
}

export const SOFTMAX_MAX_ARITY = MAX_GROUP;
/** Pair comparisons per call up to which every row is one group, whatever its width (decoding steps). */
export const ONE_GROUP_COMPARISONS = 1 << 16;

/**
 * Default group size: one level for the whole row while the all-pairs comparisons stay few (a decoding step
 * scores 1 query row per head: 8 heads of 81 keys take 25,920 comparisons, 190 KB, and 15 rounds instead of
 * 22 for two levels), else groups of up to MAX_GROUP. Shapes are public, so every party picks the same.
 */
function maxGroup(rows: number, cols: number, o: SoftmaxOptions): number {
  if (o.maxArity !== undefined) return o.maxArity;
  return cols > MAX_GROUP && (rows * cols * (cols - 1)) / 2 <= ONE_GROUP_COMPARISONS ? cols : MAX_GROUP;
}

function denominator(fracBits: number, cols: number): InverseOptions {
  // Each row's sum is at least exp(0) = 1 (its max entry) and at most cols.
  return { kind: 'reciprocal', lo: -1, hi: ceilLog2(cols + 1) + 1, signed: false, xScale: fracBits, mScale: fracBits, outScale: fracBits, outBound: 1 };
}

/** Declared cost for rows x cols (rows counts every leading axis). */
export function softmaxCost(rows: number, cols: number, o: SoftmaxOptions = {}, fracBits = 18): Cost {
  const n = rows * cols;
  return seq(maxLastWideCost(rows, cols, maxGroup(rows, cols, o)), expCost(n), inverseCost(rows, denominator(fracBits, cols), n));
}

/** softmaxLastOfProduct's cost (the product's reshare not included: matmulRawCost). */
export function softmaxOfProductCost(rows: number, cols: number, o: SoftmaxOptions = {}, fracBits = 18): Cost {
  const n = rows * cols;
  return seq(maxLastWideBesideCost(rows, cols, truncateCost(n), maxGroup(rows, cols, o)), expCost(n), inverseCost(rows, denominator(fracBits, cols), n));
}

/** Public 0/1 visibility of [..., rows, cols] entries (1 = visible), as ring integers. */
function causalMask(shape: readonly number[], offset: number): BigUint64Array {
  const rows = shape[shape.length - 2];
  const cols = shape[shape.length - 1];
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`softmax: causal queryOffset must be a non-negative integer, got ${offset}`);
  const mask = new BigUint64Array(shape.reduce((s, v) => s * v, 1));
  for (let e = 0; e < mask.length; e++) {
    const j = e % cols;
    const i = Math.floor(e / cols) % rows;
    mask[e] = j <= i + offset ? 1n : 0n;
  }
  return mask;
}

function checkInput(x: AShare, o: SoftmaxOptions): number {
  const cols = x.shape[x.shape.length - 1];
  if (!cols) throw new Error('softmax: needs a non-empty last axis');
  if (o.causal && x.shape.length < 2) throw new Error(`softmax: a causal mask needs [..., rows, cols], got [${x.shape.join(', ')}]`);
  return cols;
}

/** Masked entries replaced by their row's column 0 (local), so they cannot win the max. */
function maskedLogits(p: Party, x: AShare, mask: BigUint64Array | undefined): AShare {
  if (!mask) return x;
  const cols = x.shape[x.shape.length - 1];
  const hidden = mask.map((v) => 1n - v);
  const first = broadcastLast(p, reshape(sliceLast(p, x, 0, 1), x.shape.slice(0, -1)), cols);
  return add(p, mulPublicRawVec(p, x, mask), mulPublicRawVec(p, first, hidden));
}

/** exp(logits - m), masked entries zeroed, divided by its row sums. */
async function normalise(p: Party, logits: AShare, m: AShare, mask: BigUint64Array | undefined): Promise<AShare> {
  const cols = logits.shape[logits.shape.length - 1];
  let e = await exp(p, sub(p, logits, broadcastLast(p, m, cols)));
  if (mask) e = mulPublicRawVec(p, e, mask);
  const sum = sumLast(p, e);
  return p.profile('reciprocal', () => inverse(p, sum, denominator(p.fracBits, cols), { m: e, broadcast: true }));
}

export function softmaxLast(p: Party, x: AShare, o: SoftmaxOptions = {}): Promise<AShare> {
  const cols = checkInput(x, o);
  return p.profile('softmax', async () => {
    const mask = o.causal ? causalMask(x.shape, o.causal.queryOffset) : undefined;
    const logits = maskedLogits(p, x, mask);
    return normalise(p, logits, await maxLastWide(p, logits, maxGroup(numel(x) / cols, cols, o)), mask);
  });
}

/**
 * Softmax of the scores whose untruncated product (2 fracBits fraction bits, replicated: matmulRaw's output)
 * is `product`: their truncation runs beside the max's first comparisons (see the header).
 */
export function softmaxLastOfProduct(p: Party, product: AShare, o: SoftmaxOptions = {}): Promise<AShare> {
  const cols = checkInput(product, o);
  return p.profile('softmax', async () => {
    const mask = o.causal ? causalMask(product.shape, o.causal.queryOffset) : undefined;
    const { max, values } = await maxLastWideBeside(
      p, maskedLogits(p, product, mask), 2 * p.fracBits,
      async (q) => maskedLogits(q, await truncate(q, product), mask),
      maxGroup(numel(product) / cols, cols, o),
    );
    return normalise(p, values, max, mask);
  });
}
