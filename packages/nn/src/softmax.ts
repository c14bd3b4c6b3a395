/**
 * Softmax over the last axis, batched over all leading axes (rows, heads, batch): one call costs the same
 * rounds for any number of rows.
 * Formula (PUMA, arXiv 2307.12533 section 4): m = max_j x_j; e_j = exp(x_j - m) with exp(t) = 0 for t < -14
 * (exp-lanes.ts or exp.ts, below); softmax_j = e_j / sum_k e_k, with one reciprocal per row whose multiplication by e_j is folded
 * into the reciprocal's last steps (inverse.ts, multiplicand e, one divisor per row).
 * Causal mask (`causal: { queryOffset }`, shape [..., rows, cols]): query row i sees keys j <= i + offset.
 * The mask is public structure, never a -3.4e38 constant: row i's visible keys are the prefix of width
 * min(cols, i + offset + 1), so the rows are laid out query-major and grouped in runs of one width
 * (causal-layout.ts, local copies): the max compares only visible candidates (max.ts row blocks), and exp runs
 * on the visible entries gathered into one vector, scattered back with every masked entry exactly 0 (so it adds
 * exactly 0 to the sum and is exactly 0 in the output). Rounds: the widest row's, as without the mask.
 * Bytes saved at GPT-2-base's 32-token prompt (12 heads, 528 of 1,024 scores visible per head): the max's
 * pairs fall from 32 x 496 to 5,456 per head (1.84 to 0.80 MB per layer and party with the truncation
 * beside it), exp runs on 6,336 scores instead of 12,288.
 * The max is max.ts's tournament of all-pairs groups on narrow comparisons (default groups of up to 32:
 * one level for rows of up to 32 columns, and for any width while the call needs at most 2^16 comparisons). It may return an entry up to 3 * 2^-7 per level below the true
 * maximum, which softmax absorbs: the result is shift-invariant, so only exp's argument moves, by at most
 * 0.0234 above 0 (exp.ts is accurate to 0.025), and each row's sum stays at least 1.
 * Input domain: logits whose visible entries in a row differ by less than 1000 (the narrow window's 1024 less
 * the exp threshold 14 and the slack; beyond it the max and the [x < -14] mask are arbitrary). Entries more
 * than 14 below the max get 0, as before.
 * Asserted max abs error per entry: 2e-3 for spreads up to 30 and at spread 990 (measured 3e-5 to 3.0e-4:
 * the reciprocal's relative error dominates; exp's own, measured: 1.3e-5 by lanes, 2e-4 to 3e-4 by squarings).
 * Which exp (public shapes, so every party picks the same): by lanes (exp-lanes.ts: three polynomial pieces
 * beside their comparisons by tables, as masked chains whose last round selects: 5 rounds, 281 B per element and
 * party) while the call has at most LANE_EXP_ELEMENTS = 2^13 visible elements (decoding steps, short prompts), else
 * by squarings (exp.ts: 11 rounds, 91.4 B). The lanes trade 6 rounds for 190 B per element: even at about 19,700
 * elements on PUMA's LAN (5 Gbps, 1 ms) and 11,800 on a 100 Mbit/s, 30 ms WAN. GPT-2-base's 32-token prompt has
 * 6,336 visible scores per layer, below both: lanes, 6 rounds fewer per layer for 1.20 MB more than squarings on
 * the same 6,336 (1.9 ms against 6 ms on the LAN, 96 ms against 180 ms on the WAN). Its 64-token prompt (24,960 visible) and BERT-base's 12 x 128 x 128
 * (unmasked) keep the squarings.
 * SoftmaxOptions.exp overrides the choice.
 * Cost: max (3 rounds for up to 32 columns and 6 for 128 by protocol tableMax.ts where max.ts's LAN rule takes
 * it; by the tournament on table comparisons 9 and 15) + exp (5 by lanes, 11 by squarings) + reciprocal with
 * the product folded in (inverse.ts: lanes pre-shifted by the octave, one masked chain of 3 levels beside the
 * octave comparisons by tables (2), the chain's last round selecting, then the resharing and the product: 7
 * rounds; 8 with b2a and the product by phi; the octaves end at 2^hi just above 1.03 cols, the sum's bound):
 * 15 rounds at 32 columns (21 with exp by squarings; 21 before the masked chains).
 * softmaxCost gives rounds and bytes for any size (with a causal mask, given its query rows: SoftmaxCostOptions). With 64-bit comparisons and PUMA's binary tree the max alone
 * took 55 rounds at 32 columns (arity-8 groups of products: 25).
 * Attention of a product (attendOfProduct), two changes of schedule:
 * 1. The scores come as the reshared, untruncated product at 2f fraction bits (matmulRaw, 1 round). The max's
 *    first level compares those (max.ts maxLastWideBeside: the same window in real units, dropping f more
 *    bits) while their truncation (2 rounds) runs beside the comparisons, so the truncation leaves the
 *    critical path: 1 + 34 rounds instead of matmul's 2 + 34. The bytes grow by the reshare less the fused
 *    truncation's saving (about n/3 words per party; scores are the smallest activations of a layer). The max
 *    is within 3 * 2^-7 + 2^-f of the truncated scores' maximum (exp's argument up to 0.0235 above 0, inside
 *    exp.ts's accuracy). Domain: the product below 2^62 at 2f fraction bits (|score| < 2^26).
 * 2. softmax(S) V = (e V) / sum, with V's product moved before the division: e V (a matmul, 2 rounds) runs
 *    beside the reciprocal's comparisons and lanes (inverse.ts shiftedReciprocal: 1/sum at 22 + hi fraction
 *    bits, each lane times its one-hot bit in its chain's last round, 5 rounds), then one product per output,
 *    truncated (2): 7 rounds from e to the context instead of 7 + 2 (the reciprocal with e folded in, then probs V). The probabilities are
 *    never formed. Bytes: the reciprocal's last product is over the context [rows, D] instead of the
 *    probabilities [rows, cols]. Error: the reciprocal's relative error (3e-4, Q's fit) on each context entry,
 *    plus e V's 1 ulp times 1/sum (at most 1), plus 1 ulp; exp's error enters through e. Asserted: within
 *    2e-3 (1 + max |V|) of float64 (softmax.test.ts; measured up to 2e-4 (1 + max |V|)). Domain: as
 *    softmax, and |V| below attentionValueBound(cols) = 2^(61 - f - 22 - hi), hi = ceil(log2(ceil(1.03 cols)))
 *    (e V R below 2^61): 32768 for 32 keys, 8192 for 128, 1024 for 1024.
 * Together (attendOfProductCost): scores, softmax and the product with V take 16 rounds at 32 keys (reshare,
 * max 3 from the reshare, exp by lanes 5, reciprocal beside e V 7; 22 with exp by squarings), against
 * 2 + 15 + 2 = 19 with matmul, softmaxLast and matmul.
 * With the output projection (attendInto, heads leading: [H, rows, cols]): o = sum_h (1/sum_h) (e_h V_h) W_h,
 * W_h head h's rows of W_o. u_h = (e_h V_h) W_h (the caller's product, truncated, 2 rounds) follows e V beside
 * the reciprocal (2 + 2 within its 5), and sum_h r_h u_h (plus the residual at the same scale) stays each party's
 * 3-of-3 term at f + finalBits fraction bits for the next norm (norm-matmul.ts SumTerm), so the context's
 * product and its truncation (2 rounds) and the projection's own product are gone: 14 rounds from the scores'
 * reshare to o's term at 32 keys instead of 16 + 2. Bytes: u's truncations, H rows x out per query instead of
 * rows x D (a gain only for few heads and queries: models attention.ts decides). Error: as attendOfProduct's,
 * through W_o (the reciprocal's relative error on each head's share of o, plus u's last bit times 1/sum).
 * Domain: as attendOfProduct, and |base + o| (the whole term; each head's r_h u_h may wrap the ring, the sum does
 * not) below attentionOutputBound(cols) = 2^(61 - f - finalBits),
 * finalBits = Q_SCALE + hi: 2^15 at 32 keys, 2^10 at 1024.
 */
import {
  aShare, broadcastLast, matmul, matmulCost, mulPublicInt, sliceFlat, sub, sumLast, seq, truncate, truncateCost, type AShare, type Cost, type Party,
} from '@puma/protocol';
import type { Buf } from '@puma/backend';
import { gatherVisible, layoutOf, layoutOfShape, scatterVisible, type CausalShape, type RowLayout } from './causal-layout.ts';
import { exp, expCost } from './exp.ts';
import { expLanes, expLanesCost } from './exp-lanes.ts';
import { ceilLog2, par } from './fixed.ts';
import { mulTrunc, mulTruncCost, productSumOutTerm } from './fused.ts';
import { inverse, inverseCost, Q_SCALE, shiftedReciprocal, shiftedReciprocalCost, type InverseOptions } from './inverse.ts';
import type { SumTerm } from './norm.ts';
import { MAX_GROUP, maxLastWide, maxLastWideBeside, maxLastWideBesideCost, maxLastWideCost } from './max.ts';

export interface SoftmaxOptions {
  /** Causal masking for x of shape [..., rows, cols]: row i sees columns j <= i + queryOffset. */
  causal?: { queryOffset: number };
  /** Largest group of the max tournament (max.ts; default: maxGroup below; 2 is a binary tree). */
  maxArity?: number;
  /** exp by lanes (exp-lanes.ts: 5 rounds, 281 B per element) or by squarings (exp.ts: 11, 91.4 B); default: expKind below. */
  exp?: ExpKind;
}

/** The cost functions' options: a causal mask also says how many query rows each leading index has. */
export type SoftmaxCostOptions = Omit<SoftmaxOptions, 'causal'> & { causal?: CausalShape };

export type ExpKind = 'lanes' | 'squarings';

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

/** Visible elements per call up to which exp runs by lanes: 6 rounds fewer for 3.1 times its bytes (see the header). */
export const LANE_EXP_ELEMENTS = 1 << 13;

/** Default exp for n visible elements: lanes while the call is small (public shape, so every party picks the same). */
function expKind(n: number, o: SoftmaxOptions): ExpKind {
  if (o.exp !== undefined && o.exp !== 'lanes' && o.exp !== 'squarings') throw new Error(`softmax: exp must be 'lanes' or 'squarings', got ${String(o.exp)}`);
  return o.exp ?? (n <= LANE_EXP_ELEMENTS ? 'lanes' : 'squarings');
}

const expCostOf = (n: number, o: SoftmaxOptions): Cost => (expKind(n, o) === 'lanes' ? expLanesCost(n) : expCost(n));

/**
 * Octaves of a row's sum: 2^hi bounds it. Each entry is at most exp(0.0235) plus exp's error (6e-4 by
 * squarings), below 1.025, so the sum is below 1.03 cols; at least exp(-0.0235) (the max's entry), above 2^-1.
 */
function sumOctaves(cols: number): number {
  return ceilLog2(Math.ceil(1.03 * cols));
}

function denominator(fracBits: number, cols: number): InverseOptions {
  return { kind: 'reciprocal', lo: -1, hi: sumOctaves(cols), signed: false, xScale: fracBits, mScale: fracBits, outScale: fracBits, outBound: 1 };
}

/** Declared cost for rows x cols (rows counts every leading axis; a causal mask gives the query rows per leading index). */
export function softmaxCost(rows: number, cols: number, o: SoftmaxCostOptions = {}, fracBits = 18): Cost {
  const layout = layoutOf(rows, cols, o.causal);
  return seq(maxLastWideCost(rows, cols, maxGroup(rows, cols, o), layout.blocks), expCostOf(layout.visible, o), inverseCost(rows, denominator(fracBits, cols), rows * cols));
}

/** Largest |V| attendOfProduct takes for rows of `cols` keys (the header's domain). */
export function attentionValueBound(cols: number, fracBits = 18): number {
  return 2 ** (61 - fracBits - Q_SCALE - sumOctaves(cols));
}

/** 1/sum for attendOfProduct: softmax's denominator with e V as the multiplicand, bounded by max |V|. */
function attentionDenominator(fracBits: number, cols: number): InverseOptions {
  return { ...denominator(fracBits, cols), outBound: attentionValueBound(cols, fracBits) };
}

/** attendOfProduct's cost for rows x cols scores (rows counts every leading axis) and V of D columns. */
export function attendOfProductCost(rows: number, cols: number, D: number, o: SoftmaxCostOptions = {}, fracBits = 18): Cost {
  return seq(
    expOfProductCost(rows, cols, o, fracBits),
    par(matmulCost(rows * D), shiftedReciprocalCost(rows, attentionDenominator(fracBits, cols))), mulTruncCost(rows * D),
  );
}

/** Fraction bits of attendInto's term beyond f: the reciprocal's (Q_SCALE + the sum's octaves). */
export function attendIntoBits(cols: number): number {
  return Q_SCALE + sumOctaves(cols);
}

/** Largest |base + o| attendInto takes for rows of `cols` keys (the header's domain). */
export function attentionOutputBound(cols: number, fracBits = 18): number {
  return 2 ** (61 - fracBits - attendIntoBits(cols));
}

/** The output projection attendInto applies per head (the caller's weight W_o [H D, out]). */
export interface HeadProjection {
  /**
   * x W_o / 2^f for x [H rows, H D] whose row (h, t) holds head h's e V in head h's columns and zeros elsewhere,
   * so row (h, t) of the product is u_h: [H rows, out].
   */
  matmul: (q: Party, x: AShare) => Promise<AShare>;
  out: number;
}

/** ev [H, rows, D] laid out block-diagonally: [H rows, H D], row (h, t) holding ev[h, t] in columns h D .. h D + D (local). */
function headBlocks(p: Party, ev: AShare): AShare {
  const [H, rows, D] = ev.shape;
  const be = p.backend;
  const comp = (c: Buf): Buf => {
    const temps: Buf[] = [];
    const keep = (b: Buf): Buf => (temps.push(b), b);
    const blocks = Array.from({ length: H }, (_, h) => {
      let row = keep(be.slice(c, h * rows * D, rows * D));
      if (h > 0) row = keep(be.concatCols(keep(be.zeros(rows * h * D)), h * D, row, D, rows));
      if (h < H - 1) row = keep(be.concatCols(row, (h + 1) * D, keep(be.zeros(rows * (H - 1 - h) * D)), (H - 1 - h) * D, rows));
      return row;
    });
    const out = be.concat(blocks);
    p.drop(...temps);
    return out;
  };
  return aShare([H * rows, H * D], comp(ev.s0), comp(ev.s1));
}

/** attendInto's cost for H heads of rows x cols scores, V of D columns and out projected columns. */
export function attendIntoCost(heads: number, rows: number, cols: number, D: number, out: number, o: SoftmaxCostOptions = {}, fracBits = 18): Cost {
  return seq(
    expOfProductCost(heads * rows, cols, o, fracBits),
    par(seq(matmulCost(heads * rows * D), matmulCost(heads * rows * out)), shiftedReciprocalCost(heads * rows, attentionDenominator(fracBits, cols))),
  );
}

function checkInput(x: AShare, o: SoftmaxOptions): RowLayout {
  const cols = x.shape[x.shape.length - 1];
  if (!cols) throw new Error('softmax: needs a non-empty last axis');
  return layoutOfShape(x.shape, o.causal?.queryOffset);
}

/** exp(values - m) on the visible entries only ([rows, cols] query-major, m [rows]), masked entries exactly 0. */
async function expShifted(p: Party, values: AShare, m: AShare, layout: RowLayout, o: SoftmaxOptions): Promise<AShare> {
  const t = gatherVisible(p, sub(p, values, broadcastLast(p, m, layout.cols)), layout);
  return scatterVisible(p, await (expKind(layout.visible, o) === 'lanes' ? expLanes(p, t) : exp(p, t)), layout);
}

export function softmaxLast(p: Party, x: AShare, o: SoftmaxOptions = {}): Promise<AShare> {
  const layout = checkInput(x, o);
  return p.profile('softmax', async () => {
    const rowsOf = layout.toRows(p, x, layout.cols);
    const m = await maxLastWide(p, rowsOf, maxGroup(layout.rows, layout.cols, o), layout.blocks);
    const e = layout.fromRows(p, await expShifted(p, rowsOf, m, layout, o), x.shape, layout.cols);
    return p.profile('reciprocal', () => inverse(p, sumLast(p, e), denominator(p.fracBits, layout.cols), { m: e, broadcast: true }));
  });
}

/** e = exp(S - max) of scores given as their untruncated product (2f fraction bits): the truncation beside the max's first level. */
async function expOfProduct(p: Party, product: AShare, layout: RowLayout, o: SoftmaxOptions): Promise<AShare> {
  const cols = layout.cols;
  const { max, values } = await maxLastWideBeside(
    p, layout.toRows(p, product, cols), 2 * p.fracBits,
    async (q) => layout.toRows(q, await truncate(q, product), cols),
    maxGroup(layout.rows, cols, o), layout.blocks,
  );
  return layout.fromRows(p, await expShifted(p, values, max, layout, o), product.shape, cols);
}

/** expOfProduct's cost for rows x cols scores (rows counts every leading axis). */
function expOfProductCost(rows: number, cols: number, o: SoftmaxCostOptions, fracBits: number): Cost {
  const layout = layoutOf(rows, cols, o.causal);
  return seq(maxLastWideBesideCost(rows, cols, truncateCost(rows * cols, fracBits), maxGroup(rows, cols, o), layout.blocks), expCostOf(layout.visible, o));
}

/**
 * softmax(S) V for scores S given as their untruncated product (2 fracBits fraction bits, replicated:
 * matmulRaw's output; [..., rows, cols]) and V [..., cols, D] (or [cols, D] for every leading index): the
 * truncation beside the max, e V beside 1/sum, then one product (see the header).
 */
export function attendOfProduct(p: Party, product: AShare, v: AShare, o: SoftmaxOptions = {}): Promise<AShare> {
  if (product.shape.length < 2) throw new Error(`attention: scores need [..., rows, cols], got [${product.shape.join(', ')}]`);
  const layout = checkInput(product, o);
  const cols = layout.cols;
  return p.profile('softmax', async () => {
    const e = await expOfProduct(p, product, layout, o);
    const [ev, inv] = await p.parallel(
      (q) => matmul(q, e, v),
      (q) => q.profile('reciprocal', () => shiftedReciprocal(q, sumLast(q, e), attentionDenominator(q.fracBits, cols))),
    );
    return mulTrunc(p, ev, broadcastLast(p, inv.r, ev.shape[ev.shape.length - 1]), inv.finalBits);
  });
}

/**
 * softmax(S) V W_o + base for scores S as in attendOfProduct, heads leading ([H, rows, cols]), V [H, cols, D] and
 * base [rows, out] (the residual, at f): this party's masked term of the sum at f + attendIntoBits(cols) fraction
 * bits, for the next norm (see the header). o never exists as a share.
 */
export function attendInto(p: Party, product: AShare, v: AShare, proj: HeadProjection, base: AShare, o: SoftmaxOptions = {}): Promise<SumTerm & { fracBits: number }> {
  if (product.shape.length !== 3) throw new Error(`attention: attendInto takes scores [heads, rows, cols], got [${product.shape.join(', ')}]`);
  const [H, rows, cols] = product.shape;
  if (base.shape.length !== 2 || base.shape[0] !== rows || base.shape[1] !== proj.out) throw new Error(`attention: the residual has shape [${base.shape.join(', ')}], expected [${rows}, ${proj.out}]`);
  const layout = checkInput(product, o);
  return p.profile('softmax', async () => {
    const e = await expOfProduct(p, product, layout, o);
    const [u, inv] = await p.parallel(
      async (q) => {
        const projected = await proj.matmul(q, headBlocks(q, await matmul(q, e, v)));
        if (projected.shape.length !== 2 || projected.shape[0] !== H * rows || projected.shape[1] !== proj.out) {
          throw new Error(`attention: the heads' projection has shape [${projected.shape.join(', ')}], expected [${H * rows}, ${proj.out}]`);
        }
        return projected;
      },
      (q) => q.profile('reciprocal', () => shiftedReciprocal(q, sumLast(q, e), attentionDenominator(q.fracBits, cols))),
    );
    const perHead = Array.from({ length: H }, (_, h) => [
      broadcastLast(p, sliceFlat(p, inv.r, h * rows, [rows]), proj.out),
      sliceFlat(p, u, h * rows * proj.out, [rows, proj.out]),
    ] as const);
    const t = productSumOutTerm(p, perHead, p.fracBits + inv.finalBits, mulPublicInt(p, base, 2n ** BigInt(inv.finalBits)));
    return { term: t.z, shape: t.shape, fracBits: t.fracBits };
  });
}
