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
 * The max uses a tournament of `maxArity` (max.ts; default 4: 12 rounds per factor 4 of columns, against
 * 22 for two binary levels; 2 gives PUMA's binary tree with the least bytes).
 * Input domain: any logits with |x| < 2^42 (no restriction on spread: entries more than 14 below the max get 0).
 * Asserted max abs error per entry: 2e-3 for spreads up to 30 (measured 1.2e-4 to 3.0e-4: the reciprocal's
 * 3e-4 relative error dominates; exp's is 6.5e-6).
 * Cost: max (arity 4: 12 rounds per level, 11 for a last binary level) + exp (11) + reciprocal with the
 * product folded in (18): 64 rounds for 32 columns (binary max: 84; PUMA's construction with SPU's costs:
 * about 130), 76 for 128 (binary: 106). Bytes per element per party (P0 / P1 / P2) at 32 x 128:
 * 405.5 / 268.7 / 268.7 with arity 4, 336.4 / 207.5 / 207.5 binary (softmaxCost gives any size).
 */
import { add, broadcastLast, mulPublicRawVec, reshape, sliceLast, sub, sumLast, seq, type AShare, type Cost, type Party } from '@puma/protocol';
import { exp, expCost } from './exp.ts';
import { ceilLog2 } from './fixed.ts';
import { inverse, inverseCost, type InverseOptions } from './inverse.ts';
import { maxLastWide, maxLastWideCost } from './max.ts';

export interface SoftmaxOptions {
  /** Causal masking for x of shape [..., rows, cols]: row i sees columns j <= i + queryOffset. */
  causal?: { queryOffset: number };
  /** Group size of the max tournament (default 4; 2 is the binary tree). */
  maxArity?: number;
}

export const SOFTMAX_MAX_ARITY = 4;

function denominator(fracBits: number, cols: number): InverseOptions {
  // Each row's sum is at least exp(0) = 1 (its max entry) and at most cols.
  return { kind: 'reciprocal', lo: -1, hi: ceilLog2(cols + 1) + 1, signed: false, xScale: fracBits, mScale: fracBits, outScale: fracBits, outBound: 1 };
}

/** Declared cost for rows x cols (rows counts every leading axis). */
export function softmaxCost(rows: number, cols: number, o: SoftmaxOptions = {}, fracBits = 18): Cost {
  const n = rows * cols;
  return seq(maxLastWideCost(rows, cols, o.maxArity ?? SOFTMAX_MAX_ARITY), expCost(n), inverseCost(rows, denominator(fracBits, cols), n));
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

export function softmaxLast(p: Party, x: AShare, o: SoftmaxOptions = {}): Promise<AShare> {
  const cols = x.shape[x.shape.length - 1];
  if (!cols) throw new Error('softmax: needs a non-empty last axis');
  if (o.causal && x.shape.length < 2) throw new Error(`softmax: a causal mask needs [..., rows, cols], got [${x.shape.join(', ')}]`);
  return p.profile('softmax', async () => {
    let logits = x;
    let mask: BigUint64Array | undefined;
    if (o.causal) {
      mask = causalMask(x.shape, o.causal.queryOffset);
      const hidden = mask.map((v) => 1n - v);
      const first = broadcastLast(p, reshape(sliceLast(p, x, 0, 1), x.shape.slice(0, -1)), cols);
      logits = add(p, mulPublicRawVec(p, x, mask), mulPublicRawVec(p, first, hidden));
    }
    const m = await maxLastWide(p, logits, o.maxArity ?? SOFTMAX_MAX_ARITY);
    let e = await exp(p, sub(p, logits, broadcastLast(p, m, cols)));
    if (mask) e = mulPublicRawVec(p, e, mask);
    const sum = sumLast(p, e);
    return p.profile('reciprocal', () => inverse(p, sum, denominator(p.fracBits, cols), { m: e, broadcast: true }));
  });
}
