/**
 * LayerNorm over the last axis with learned scale and shift (gamma, beta as shares of shape [n]):
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta,  var = mean((x - mean)^2)  (the two-pass form: no
 *   cancellation in E[x^2] - E[x]^2, and var >= 0 by construction).
 * After PUMA (arXiv 2307.12533) section 4: mean, variance, one reciprocal square root per row.
 * Steps: mean = sum * round(2^32 / n) / 2^32 (one truncation per row, 2 rounds; its relative error n 2^-33
 * costs at most n |mean| 2^-33 in d); d = x - mean; then norm.ts: the exact sum of squares S (1 round) and
 * R = sqrt(n) / sqrt(S + n eps) (norm-scale.ts, 10 rounds) beside m = d gamma (2 rounds), then m R (2 rounds);
 * for small shapes (norm.ts TIMES_LIMIT) m times every lane of R instead, 2 rounds sooner.
 * eps is added at 36 fraction bits, so eps below 2^-18 still counts.
 * Input domain: |row mean| < 2^11, n var < 2^26 (e.g. std up to 295 at n = 768), |y - beta| < 2^12 (options).
 * layerNormMatmul: LayerNorm(x) W with the row scale after the product (norm-matmul.ts), 2 rounds fewer than
 * layerNorm then a matmul.
 * Asserted max abs error: 5e-3 for rows with std between 0.05 and 50 and |gamma| <= 2 (measured 2.4e-4 to
 * 2.6e-4 on both paths).
 * Cost: 2 + 1 + 10 + 2 = 15 rounds (19 with gamma folded into the rsqrt's products, 22 before rsqrt's lanes;
 * PUMA's construction with SPU's costs: about 60); 2 + 1 + 10 = 13 when rows * n * lanes is at most
 * laneProducts (norm.ts, default 2^12: one row of 64, 37 lanes). Bytes per element per party (P0 / P1 / P2):
 * 83.0 / 67.0 / 67.0 at 32 x 128, 49.0 / 46.5 / 46.5 at 32 x 768, 47.8 / 47.1 / 47.1 at 128 x 768 (per
 * element: m = d gamma and m R; per row: the mean's truncation, S's reshare and R's 34 comparisons and lanes);
 * 1602.9 / 1253.5 / 1253.5 at 1 x 64 in 13 rounds (per element and lane: m L_k and its bit times value).
 * On a published variance window (options minVar / maxVar, norm.ts; models norm-windows.ts): one lane per octave
 * of the window and, up to 10 octaves of S, 2 + 1 + 8 + 2 = 13 rounds whatever the shape (11 after d).
 */
import { broadcastLast, mulPublicInt, seq, sub, sumLast, truncate, truncateCost, type AShare, type Cost, type OutputTerm, type Party } from '@puma/protocol';
import { checkRowParam, normPlan, normTail, normTailCost, plusBeta, withScale, type NormOptions } from './norm.ts';
import { normMatmul, normMatmulCost, normMatmulPlan, normMatmulTerm, normMatmulTermCost, type NormMatmul, type NormMatmulTerm } from './norm-matmul.ts';

/** Fraction bits of 1/n in the mean's multiplication: |mean| 2^(18+32) stays below 2^62 for |mean| < 2^12. */
const MEAN_BITS = 32;

export const layerNormCost = (rows: number, n: number, eps: number, o: NormOptions = {}, fracBits = 18): Cost =>
  seq(truncateCost(rows, MEAN_BITS), normTailCost(rows, n, normPlan(n, eps, fracBits, o)));

async function centred(p: Party, x: AShare, n: number): Promise<AShare> {
  const mean = await truncate(p, mulPublicInt(p, sumLast(p, x), Math.round(2 ** MEAN_BITS / n)), MEAN_BITS);
  return sub(p, x, broadcastLast(p, mean, n));
}

/** gamma and beta null: the norm without its affine part (folded into the matmul it feeds; norm.ts noScale). */
export function layerNorm(p: Party, x: AShare, gamma: AShare | null, beta: AShare | null, eps: number, o: NormOptions = {}): Promise<AShare> {
  const n = checkRowParam(x, gamma, 'gamma');
  checkRowParam(x, beta, 'beta');
  const plan = normPlan(n, eps, p.fracBits, withScale(o, gamma));
  return p.profile('layerNorm', async () => plusBeta(p, await normTail(p, await centred(p, x, n), gamma, plan), beta));
}

/** Cost of layerNormMatmul for x [rows, n] and W [n, out]; betaRow false where beta W was kept (norm-matmul.ts BetaProductStore). */
export const layerNormMatmulCost = (rows: number, n: number, eps: number, out: number, keepY = false, o: NormOptions = {}, fracBits = 18, betaRow = true): Cost =>
  seq(truncateCost(rows, MEAN_BITS), normMatmulCost(rows, n, normPlan(n, eps, fracBits, o), out, betaRow, keepY));

/** LayerNorm(x) W for x [rows, n] with the row scale applied after the product (norm-matmul.ts); y too with mm.keepY. */
export function layerNormMatmul(p: Party, x: AShare, gamma: AShare | null, beta: AShare | null, eps: number, mm: NormMatmul, o: NormOptions = {}): Promise<{ y: AShare | null; yw: AShare }> {
  const n = checkRowParam(x, gamma, 'gamma');
  checkRowParam(x, beta, 'beta');
  const plan = normPlan(n, eps, p.fracBits, withScale(o, gamma));
  return p.profile('layerNorm', async () => normMatmul(p, await centred(p, x, n), gamma, beta, plan, mm));
}

/** Cost of layerNormMatmulTerm for x [rows, n] and W [n, out]. */
export const layerNormMatmulTermCost = (rows: number, n: number, eps: number, out: number, o: NormOptions = {}, fracBits = 18, betaRow = true): Cost =>
  seq(truncateCost(rows, MEAN_BITS), normMatmulTermCost(rows, n, normPlan(n, eps, fracBits, o), out, betaRow));

/** LayerNorm(x) W left as this party's masked term for the client (norm-matmul.ts normMatmulTerm). */
export function layerNormMatmulTerm(p: Party, x: AShare, gamma: AShare | null, beta: AShare | null, eps: number, mm: NormMatmulTerm, o: NormOptions = {}): Promise<OutputTerm> {
  const n = checkRowParam(x, gamma, 'gamma');
  checkRowParam(x, beta, 'beta');
  const plan = normPlan(n, eps, p.fracBits, withScale(o, gamma));
  return p.profile('layerNorm', async () => normMatmulTerm(p, await centred(p, x, n), gamma, beta, plan, mm));
}

/** Whether layerNormMatmul (and its term) takes the fused path for rows of width n (norm-matmul.ts normMatmulPlan). */
export const layerNormMatmulFuses = (n: number, eps: number, o: NormOptions = {}, fracBits = 18): boolean => normMatmulPlan(normPlan(n, eps, fracBits, o)) !== null;
