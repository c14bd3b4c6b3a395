/**
 * LayerNorm of a residual sum whose last term is still an untruncated product: x = base + P / 2^f, with P a
 * replicated fixed-point product at 2f fraction bits (a matmul only reshared, 1 round) and base at f (the
 * residual plus the layer's bias). Returns y = LayerNorm(x) (layernorm.ts's formula and parameters) and, with
 * keepSum (pre-norm models, whose residual stream goes on from x), x as well. Why: layernorm.ts truncates the row mean from x, so x's own truncation (fused into
 * the matmul) and the mean's sit one after the other; here both come from X = base 2^f + P in parallel.
 * Write n = o 2^k with o odd and e = ceil(log2 o). In one round of truncations (protocol truncate.ts, 2 rounds):
 *   x = X / 2^f,   t = (sum_j X_j) / 2^(f + e + k) = sum_j x_j / 2^k at f - e bits,
 *   x_d = X / 2^(f + e)  (only when o > 1; x_d = x when o = 1; x itself only when kept or o = 1),
 * then locally d' = o x_d - t = o (x - mean) at f - e fraction bits. LayerNorm is scale-invariant, so
 *   y = d' gamma / sqrt(mean(d'^2) + o^2 eps) + beta
 * is LayerNorm(x) exactly; norm.ts runs it with d at f - e bits (S at 2(f - e)). Dividing by 2^k is exact, so no
 * rounded 1/n enters (layernorm.ts: relative n 2^-33); the odd factor o scales d instead of dividing it, and the
 * e fewer fraction bits pay for the o^2 it adds to S: o^2 2^(2(f - e)) <= 2^(2f).
 * Error: t and x_d within 1 ulp at f - e bits of their exact values (truncations are unbiased), so d' / o is
 * within (1 + 1/o) 2^-(f - e) of x - mean (2e-5 at o = 3): on y at most |gamma| times that over the row's std
 * besides layernorm.ts's own error (8e-4 at std 0.05 and |gamma| 2 for o = 3; 2^-18 / std for o = 1). y is
 * LayerNorm of the exact X / 2^f; the returned x is its truncation (1 ulp). Asserted: 5e-3 for row std 0.05
 * to 50 and |gamma| <= 2, as layernorm.ts.
 * Domain: |x| < 2^26 and n |mean| < 2^26 (X and its row sum below 2^62 at 2f), n var < 2^26 4^e / o^2 >= 2^26
 * (layernorm.ts's, no narrower), |y - beta| <= 2^12.
 * One truncation fewer on a published window (options maxVar, norm.ts) that is narrow enough: when x is kept
 * anyway and o^2 n (maxVar + eps) <= 2^(62 - 2f), d' = o x - t with t = sum_j X_j / 2^(f + k) at f bits needs no
 * x_d (S = o^2 n var at 2f bits stays below 2^62 on the window); d' / o is then within (1 + 1/o) 2^-f of
 * x - mean. Saves x_d's truncation (rows x n words, same rounds): GPT-2 models with the owner's windows.
 * Cost: the truncations (2 rounds; x and x_d n elements each, t one per row) + norm.ts's tail (13, or 11 for
 * small shapes: norm.ts TIMES_LIMIT): 15 (13) rounds after P's reshare, against 2 (the matmul's fused truncation) + 15 (layernorm.ts): one round less per norm
 * that follows a matmul. Bytes: the reshare and x's truncation from replicated form (about n/3 words per
 * element more than the fused truncation), x_d's truncation when o > 1, and the tail.
 * layerNormOfResidualMatmul: the same d', then norm-matmul.ts (LayerNorm(x) W with the row scale after the
 * product), 2 rounds fewer than this then a matmul.
 * Paper: PUMA (arXiv 2307.12533) section 4 (LayerNorm); the schedule is this package's.
 */
import {
  add, broadcastLast, mulPublicInt, sameShape, seq, sub, sumLast, truncate, truncateCost, type AShare, type Cost, type Party,
} from '@puma/protocol';
import { par, ZERO_COST } from './fixed.ts';
import { checkRowParam, normPlan, normTail, normTailCost, plusBeta, withScale, type NormOptions, type NormPlan } from './norm.ts';
import { normMatmul, normMatmulCost, normMatmulPlan, type NormMatmul } from './norm-matmul.ts';

/** n = odd 2^k and e = ceil(log2 odd). */
function split(n: number): { odd: number; k: number; e: number } {
  let odd = n;
  let k = 0;
  while (odd % 2 === 0) {
    odd /= 2;
    k++;
  }
  return { odd, k, e: Math.ceil(Math.log2(odd)) };
}

/**
 * Whether d' is formed from the kept x at f bits, without x_d (see the header): x is kept, n has an odd factor,
 * and the published window keeps o^2 n (maxVar + eps) within the sum of squares' 2^(62 - 2f).
 */
function fromKeptSum(n: number, eps: number, fracBits: number, o: NormOptions, keepSum: boolean): boolean {
  const { odd, e } = split(n);
  return keepSum && e > 0 && o.maxVar !== undefined && odd * odd * n * (o.maxVar + eps) <= 2 ** (62 - 2 * fracBits);
}

function plan(n: number, eps: number, fracBits: number, o: NormOptions, keepSum: boolean): NormPlan {
  const { odd, e } = split(n);
  if (e >= fracBits) throw new Error(`layerNorm of a residual: width ${n} has odd factor ${odd}, which needs more than the session's ${fracBits} fraction bits`);
  const scaled = (v: number | undefined) => (v === undefined ? undefined : odd * odd * v);
  const dBits = fromKeptSum(n, eps, fracBits, o, keepSum) ? fracBits : fracBits - e;
  return normPlan(n, odd * odd * eps, fracBits, { ...o, maxVar: scaled(o.maxVar), minVar: scaled(o.minVar) }, dBits);
}

export function layerNormOfResidualCost(rows: number, n: number, eps: number, o: NormOptions = {}, keepSum = true, fracBits = 18): Cost {
  const pl = plan(n, eps, fracBits, o, keepSum);
  return seq(truncationsCost(rows, n, keepSum, droppedBits(pl), fracBits), normTailCost(rows, n, pl));
}

/** Bits d' carries below the session's: e on the x_d path, 0 where d' comes from the kept x (or n is a power of two). */
const droppedBits = (pl: NormPlan): number => pl.fracBits - pl.dBits;

/** x (kept, or the d' source when nothing is dropped), x_d (when bits are dropped), and t: in parallel (residualD's shifts). */
function truncationsCost(rows: number, n: number, keepSum: boolean, dropped: number, f: number): Cost {
  const { k } = split(n);
  return par(
    ZERO_COST, ...(keepSum || dropped === 0 ? [truncateCost(rows * n, f)] : []), ...(dropped > 0 ? [truncateCost(rows * n, f + dropped)] : []), truncateCost(rows, f + dropped + k),
  );
}

/** Cost of layerNormOfResidualMatmul: the truncations, then norm-matmul.ts's product with W [n, out] (betaRow false where beta W was kept). */
export function layerNormOfResidualMatmulCost(rows: number, n: number, eps: number, out: number, keepSum: boolean, keepY: boolean, o: NormOptions = {}, fracBits = 18, betaRow = true): Cost {
  const pl = plan(n, eps, fracBits, o, keepSum);
  return seq(truncationsCost(rows, n, keepSum, droppedBits(pl), fracBits), normMatmulCost(rows, n, pl, out, betaRow, keepY));
}

/** Whether layerNormOfResidualMatmul takes the fused path for rows of width n (narrow rows do not: norm-matmul.ts). */
export function layerNormOfResidualMatmulFuses(n: number, eps: number, keepSum: boolean, o: NormOptions = {}, fracBits = 18): boolean {
  return normMatmulPlan(plan(n, eps, fracBits, o, keepSum)) !== null;
}

/**
 * LayerNorm(x) for x = base + product / 2^f (see the header); base [..., n] at f bits, product the same shape at
 * 2f. x is returned when keepSum is set (else null).
 */
export function layerNormOfResidual(
  p: Party, base: AShare, product: AShare, gamma: AShare | null, beta: AShare | null, eps: number, o: NormOptions = {}, keepSum = true,
): Promise<{ x: AShare | null; y: AShare }> {
  sameShape(base, product, 'layerNormOfResidual');
  const n = checkRowParam(base, gamma, 'gamma');
  checkRowParam(base, beta, 'beta');
  const pl = plan(n, eps, p.fracBits, withScale(o, gamma), keepSum);
  return p.profile('layerNorm', async () => {
    const { x, d } = await residualD(p, base, product, keepSum, droppedBits(pl));
    return { x, y: plusBeta(p, await normTail(p, d, gamma, pl), beta) };
  });
}

/** d' = odd (x - mean) at f - dropped fraction bits (dropped: e, or 0 from the kept x), and x when kept (see the header). */
async function residualD(p: Party, base: AShare, product: AShare, keepSum: boolean, dropped: number): Promise<{ x: AShare | null; d: AShare }> {
  const n = base.shape[base.shape.length - 1];
  const { odd, k } = split(n);
  const f = p.fracBits;
  const X = add(p, mulPublicInt(p, base, 2n ** BigInt(f)), product);
  const [x, xd, t] = await p.parallel(
    (q) => (keepSum || dropped === 0 ? truncate(q, X, f) : Promise.resolve(null)),
    (q) => (dropped > 0 ? truncate(q, X, f + dropped) : Promise.resolve(null)),
    (q) => truncate(q, sumLast(q, X), f + dropped + k),
  );
  return { x: keepSum ? x : null, d: sub(p, mulPublicInt(p, (xd ?? x) as AShare, odd), broadcastLast(p, t, n)) };
}

/**
 * LayerNorm(x) W for x = base + product / 2^f with the row scale applied after the product (norm-matmul.ts):
 * x when keepSum, y = LayerNorm(x) when mm.keepY, and yw.
 */
export function layerNormOfResidualMatmul(
  p: Party, base: AShare, product: AShare, gamma: AShare | null, beta: AShare | null, eps: number, mm: NormMatmul, keepSum: boolean, o: NormOptions = {},
): Promise<{ x: AShare | null; y: AShare | null; yw: AShare }> {
  sameShape(base, product, 'layerNormOfResidualMatmul');
  const n = checkRowParam(base, gamma, 'gamma');
  checkRowParam(base, beta, 'beta');
  const pl = plan(n, eps, p.fracBits, withScale(o, gamma), keepSum);
  return p.profile('layerNorm', async () => {
    const { x, d } = await residualD(p, base, product, keepSum, droppedBits(pl));
    return { x, ...(await normMatmul(p, d, gamma, beta, pl, mm)) };
  });
}
