/**
 * RMSNorm over the last axis (LLaMA): y = x / sqrt(mean(x^2) + eps) * gamma, gamma a share of shape [n].
 * Same construction as LayerNorm without the mean (norm.ts): the exact sum of squares S per row (1 round), then
 * R = sqrt(n) / sqrt(S + n eps) (norm-scale.ts, 10 rounds) beside m = x gamma, then m R (2 rounds); for small
 * shapes (norm.ts TIMES_LIMIT) m times every lane of R instead, 2 rounds sooner.
 * Input domain: n mean(x^2) < 2^26 (e.g. RMS up to 128 at n = 4096), |y| < 2^12 (options).
 * Asserted max abs error: 5e-3 for rows with RMS between 0.05 and 50 and |gamma| <= 2 (measured 2.3e-4 to
 * 2.5e-4 on both paths).
 * Cost: 1 + 10 + 2 = 13 rounds (17 with gamma folded into the rsqrt's products, 20 before rsqrt's lanes);
 * 1 + 10 = 11 when rows * n * lanes is at most laneProducts (norm.ts, default 2^12: each generated token of
 * stories260K, 64 x 37). Bytes per element per party (P0 / P1 / P2): 82.7 / 66.9 / 66.9 at 32 x 128,
 * 147.7 / 83.3 / 83.3 at 16 x 64, 43.8 / 43.3 / 43.3 at 8 x 4096; 1602.4 / 1253.4 / 1253.4 at 1 x 64 in 11
 * rounds (per element and lane: m L_k and its bit times value).
 * On a published window of the mean square (options minVar / maxVar, norm.ts): 1 + 8 + 2 = 11 rounds up to 10
 * octaves of S, one lane per octave (rmsnorm.test.ts: 2.4e-4 at n = 64 on [0.1, 60]).
 * rmsNormMatmul: RMSNorm(x) W with the row scale after the product (norm-matmul.ts), 2 rounds fewer than rmsNorm
 * then a matmul; rmsNormMatmulTerm leaves that product untruncated for a reveal to the client, 2 fewer again;
 * rmsNormMatmulTermAt leaves it at fixed fraction bits (norm-matmul.ts normTermPlan) for RoPE's rotation. All
 * three take x as a residual sum's term too (norm-matmul.ts NormInput: 1 round sooner than truncating it first).
 * Paper: PUMA (arXiv 2307.12533) section 5 (LLaMA-7B's RMSNorm).
 */
import type { AShare, Cost, OutputTerm, Party } from '@puma/protocol';
import { checkRowParam, normPlan, normTail, normTailCost, withScale, type NormInput, type NormOptions } from './norm.ts';
import { normMatmul, normMatmulCost, normMatmulTerm, normMatmulTermCost, normTermPlan, type NormMatmul, type NormMatmulTerm } from './norm-matmul.ts';

export const rmsNormCost = (rows: number, n: number, eps: number, o: NormOptions = {}, fracBits = 18): Cost => normTailCost(rows, n, normPlan(n, eps, fracBits, o));

export function rmsNorm(p: Party, x: AShare, gamma: AShare | null, eps: number, o: NormOptions = {}): Promise<AShare> {
  const n = checkRowParam(x, gamma, 'gamma');
  const plan = normPlan(n, eps, p.fracBits, withScale(o, gamma));
  return p.profile('rmsNorm', () => normTail(p, x, gamma, plan));
}

/** Cost of rmsNormMatmul for x [rows, n] and W [n, out] (fromSum: x given as a residual sum's term, norm-matmul.ts NormInput). */
export const rmsNormMatmulCost = (rows: number, n: number, eps: number, out: number, keepY = false, o: NormOptions = {}, fracBits = 18, fromSum = false): Cost =>
  normMatmulCost(rows, n, normPlan(n, eps, fracBits, o), out, false, keepY, { fromSum });

/**
 * RMSNorm(x) W for x [rows, n] with the row scale applied after the product (norm-matmul.ts); y too with
 * mm.keepY; x itself (d) as well, which a residual sum's term (NormInput) resolves on the way.
 */
export function rmsNormMatmul(p: Party, x: NormInput, gamma: AShare | null, eps: number, mm: NormMatmul, o: NormOptions = {}): Promise<{ y: AShare | null; yw: AShare; d: AShare }> {
  const n = checkRowParam(x, gamma, 'gamma');
  const plan = normPlan(n, eps, p.fracBits, withScale(o, gamma));
  return p.profile('rmsNorm', () => normMatmul(p, x, gamma, null, plan, mm));
}

/** Cost of rmsNormMatmulTerm for x [rows, n] and W [n, out]. */
export const rmsNormMatmulTermCost = (rows: number, n: number, eps: number, out: number, o: NormOptions = {}, fracBits = 18, fromSum = false): Cost =>
  normMatmulTermCost(rows, n, normPlan(n, eps, fracBits, o), out, false, { fromSum });

/** RMSNorm(x) W left as this party's masked term for the client (norm-matmul.ts normMatmulTerm). */
export function rmsNormMatmulTerm(p: Party, x: NormInput, gamma: AShare | null, eps: number, mm: NormMatmulTerm, o: NormOptions = {}): Promise<OutputTerm> {
  const n = checkRowParam(x, gamma, 'gamma');
  const plan = normPlan(n, eps, p.fracBits, withScale(o, gamma));
  return p.profile('rmsNorm', () => normMatmulTerm(p, x, gamma, null, plan, mm));
}

/** Cost of rmsNormMatmulTermAt for x [rows, n] and W [n, out], the term at termBits fraction bits (fromSum: x a residual sum's term). */
export function rmsNormMatmulTermAtCost(rows: number, n: number, eps: number, out: number, termBits: number, o: NormOptions = {}, fracBits = 18, fromSum = false): Cost {
  const t = normTermPlan(n, eps, fracBits, o, termBits);
  return normMatmulTermCost(rows, n, t.plan, out, false, { fused: t.fused, fromSum });
}

/**
 * RMSNorm(x) W as this party's masked term at termBits fraction bits (norm-matmul.ts normTermPlan: R's and z's
 * bits balanced), or unfused (the norm, then mm.matmulTerm, which must give termBits) where the window is too wide.
 */
export async function rmsNormMatmulTermAt(p: Party, x: NormInput, gamma: AShare | null, eps: number, mm: NormMatmulTerm, termBits: number, o: NormOptions = {}): Promise<OutputTerm & { d: AShare }> {
  const n = checkRowParam(x, gamma, 'gamma');
  const t = normTermPlan(n, eps, p.fracBits, withScale(o, gamma), termBits);
  const term = await p.profile('rmsNorm', () => normMatmulTerm(p, x, gamma, null, t.plan, mm, t.fused));
  if (term.fracBits !== termBits) throw new Error(`rms norm term: the product's term is at ${term.fracBits} fraction bits, expected ${termBits}`);
  return term;
}
