/**
 * LayerNorm of a residual sum given as this party's masked 3-of-3 term Z (norm.ts SumTerm: the residual's term
 * or its value times 2^f, plus a sublayer's product term, at T = 2f fraction bits). Returns y = LayerNorm(x),
 * x = Z / 2^T (layernorm.ts's formula and parameters). Z itself is left as it is: it is never opened, so a
 * pre-norm model's residual stream goes on from it as a term, never truncated (models forward.ts).
 * Write n = o 2^k with o odd and e = ceil(log2 o). The mean is taken exactly on the term: each party forms
 *   C = n Z - sum_j Z_j   (its own row sums, repeated over the row; then a fresh zero sharing added),
 * a term of n (x - mean) at T fraction bits, i.e. of d' = o (x - mean) at T + k (no rounded 1/n enters).
 * LayerNorm is scale-invariant, so
 *   y = d' gamma / sqrt(mean(d'^2) + o^2 eps) + beta
 * is LayerNorm(x) exactly; norm.ts runs it on C truncated to d' at dBits fraction bits by protocol
 * truncateSquares, whose first round also gives the rows' S = sum_j d'_j^2 (norm.ts normTailOfSum, or
 * norm-matmul.ts with the row scale after the product): R starts from S one round after the term, while the
 * second round replicates d'. dBits = f where a published window (options maxVar, norm.ts) keeps o^2 n (maxVar +
 * eps) within the 2^(62 - 2f) S may reach, else f - e (the o^2 that d' carries paid for with e fraction bits:
 * o^2 2^(2(f - e)) <= 2^(2f)).
 * Why the fresh zero sharing: without it C's mask would be the producer's zero sharing u under the map
 * u -> n u - sum(u), which clears the low bits of n u (8 at n = 768) and ties every element of a row to the
 * row's sum, so the words a party receives in C's truncation would not be uniform; with it each word is
 * (layernorm-residual-security.test.ts: byte histograms catch a mutant without it, which the view rule cannot).
 * Rounds from the product's term: 1 + 11 + 2 = 14 (the truncation's first round, S's resharing and R, then m R;
 * on a window 1 + 5 + 2 = 8; norm-matmul.ts then a matmul: its product after R), against the product's reshare,
 * x's and the mean's truncations (1 + 2) before norm.ts's tail (13, or 7 on a window) when the mean was
 * truncated on its own: 2 rounds fewer per norm, 3 fewer than the matmul's fused truncation and layernorm.ts.
 * Declared bytes per element and party: d''s truncation with its squares, 26.7 (4 words from each chunk's dealer plus the
 * squares' 2, 2 from the others), against the product's reshare (8) and x's truncation from replicated form
 * (9.3; and x_d's 9.3 off a window) when the mean was truncated on its own: on PUMA's LAN (625 KB a round) the 2
 * rounds are worth the 9.3 more up to about 134,000 elements a norm (174 rows at 768).
 * Error: d' is the truncation of the exact o (x - mean), within 1 ulp at dBits (the mean truncated on its own was
 * within (1 + 1/o) ulps): on y at most |gamma| 2^-dBits over the row's std besides layernorm.ts's own error.
 * Asserted: 5e-3 for row std 0.05 to 50 and |gamma| <= 2, as layernorm.ts.
 * Domain: |x| < 2^(62 - T) (Z's value; 2^26 at 18 fraction bits), n |x - mean| < 2^(62 - T) (C's), n var as
 * norm.ts's (n var < 2^(62 - 2f)), |y - beta| <= 2^12. C's bound follows from the variance's for rows of up to
 * 2^((62 - 2f) / 2) = 8,192 columns (|x_j - mean| <= sqrt(n var)), so the owner's domain check of the sum of
 * squares covers it; wider rows are refused.
 * layerNormOfResidualMatmul: the same d', then norm-matmul.ts (LayerNorm(x) W with the row scale after the
 * product); layerNormOfResidualMatmulTerm leaves that product as each party's term for the client.
 * Paper: PUMA (arXiv 2307.12533) section 4 (LayerNorm); the schedule is this package's.
 */
import type { AShare, Cost, OutputTerm, Party } from '@puma/protocol';
import { checkRowParam, checkSumTerm, normPlan, normTailOfSum, normTailOfSumCost, plusBeta, withScale, type NormOptions, type NormPlan, type SumTerm } from './norm.ts';
import { normMatmul, normMatmulCost, normMatmulPlan, normMatmulTerm, normMatmulTermCost, type NormMatmul, type NormMatmulTerm } from './norm-matmul.ts';

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

/** The widest rows this op takes at `fracBits` (see the header's domain): 8,192 at 18. */
export function layerNormOfResidualMaxWidth(fracBits = 18): number {
  return 2 ** Math.floor((62 - 2 * fracBits) / 2);
}

/** d' at f bits where the published window lets S carry o^2 (see the header), else at f - e. */
function plan(n: number, eps: number, fracBits: number, o: NormOptions): NormPlan {
  const { odd, e } = split(n);
  if (e >= fracBits) throw new Error(`layerNorm of a residual: width ${n} has odd factor ${odd}, which needs more than the session's ${fracBits} fraction bits`);
  if (n > layerNormOfResidualMaxWidth(fracBits)) throw new Error(`layerNorm of a residual: rows of ${n} columns are wider than the ${layerNormOfResidualMaxWidth(fracBits)} whose centred sum the variance's domain bounds`);
  const scaled = (v: number | undefined) => (v === undefined ? undefined : odd * odd * v);
  const fits = o.maxVar !== undefined && odd * odd * n * (o.maxVar + eps) <= 2 ** (62 - 2 * fracBits);
  return normPlan(n, odd * odd * eps, fracBits, { ...o, maxVar: scaled(o.maxVar), minVar: scaled(o.minVar) }, fits ? fracBits : fracBits - e);
}

/** The term of d' = odd (x - mean) at x.fracBits + k (see the header): C = n Z - row sums of Z, plus a fresh zero sharing. */
function centredSum(p: Party, x: SumTerm): SumTerm {
  const n = checkRowParam(x, null, 'gamma');
  const rows = x.term.length / n;
  const be = p.backend;
  const scaled = be.mulScalar(x.term, BigInt(n));
  const sums = be.sumRows(x.term, rows, n);
  const spread = be.repeatEach(sums, n);
  const centred = be.sub(scaled, spread);
  const zero = p.zeroShare(p.nextTag(), centred.length);
  const term = be.add(centred, zero);
  p.drop(scaled, sums, spread, centred, zero);
  return { term, shape: x.shape, fracBits: x.fracBits + split(n).k };
}

export function layerNormOfResidualCost(rows: number, n: number, eps: number, o: NormOptions = {}, fracBits = 18): Cost {
  return normTailOfSumCost(rows, n, plan(n, eps, fracBits, o));
}

/** Cost of layerNormOfResidualMatmul with W [n, out] (betaRow false where beta W was kept). */
export function layerNormOfResidualMatmulCost(rows: number, n: number, eps: number, out: number, keepY: boolean, o: NormOptions = {}, fracBits = 18, betaRow = true): Cost {
  return normMatmulCost(rows, n, plan(n, eps, fracBits, o), out, betaRow, keepY, { fromSum: true });
}

/** Whether layerNormOfResidualMatmul takes the fused path for rows of width n (narrow rows do not: norm-matmul.ts). */
export function layerNormOfResidualMatmulFuses(n: number, eps: number, o: NormOptions = {}, fracBits = 18): boolean {
  return normMatmulPlan(plan(n, eps, fracBits, o)) !== null;
}

/** The plan for a sum's term checked for `what`: the term at 2f and of its shape, gamma and beta of the row's width. */
function checkedPlan(p: Party, sum: SumTerm, gamma: AShare | null, beta: AShare | null, eps: number, o: NormOptions, what: string): NormPlan {
  if (sum.fracBits !== 2 * p.fracBits) throw new Error(`${what}: the residual sum's term must be at ${2 * p.fracBits} fraction bits, got ${sum.fracBits}`);
  checkSumTerm(sum, what);
  const n = checkRowParam(sum, gamma, 'gamma');
  checkRowParam(sum, beta, 'beta');
  return plan(n, eps, p.fracBits, withScale(o, gamma));
}

/**
 * `norm` run on the centred sum in a 'layerNorm' span; the centred term and the d' it returns are released. The
 * caller's term is left as it was.
 */
function onCentredSum<T>(p: Party, sum: SumTerm, norm: (centred: SumTerm) => Promise<T & { d: AShare }>): Promise<Omit<T, 'd'>> {
  return p.profile('layerNorm', async () => {
    const centred = centredSum(p, sum);
    const { d, ...rest } = await norm(centred);
    p.drop(centred.term, d.s0, d.s1);
    return rest;
  });
}

/** LayerNorm(x) for x the residual sum whose term is `sum` (see the header). The term stays the caller's, unchanged. */
export async function layerNormOfResidual(p: Party, sum: SumTerm, gamma: AShare | null, beta: AShare | null, eps: number, o: NormOptions = {}): Promise<AShare> {
  const pl = checkedPlan(p, sum, gamma, beta, eps, o, 'layerNormOfResidual');
  const { y } = await onCentredSum(p, sum, (c) => normTailOfSum(p, c, gamma, pl));
  return plusBeta(p, y, beta);
}

/**
 * LayerNorm(x) W for x the residual sum whose term is `sum`, with the row scale applied after the product
 * (norm-matmul.ts): y = LayerNorm(x) when mm.keepY, and yw. The term stays the caller's, unchanged.
 */
export function layerNormOfResidualMatmul(
  p: Party, sum: SumTerm, gamma: AShare | null, beta: AShare | null, eps: number, mm: NormMatmul, o: NormOptions = {},
): Promise<{ y: AShare | null; yw: AShare }> {
  const pl = checkedPlan(p, sum, gamma, beta, eps, o, 'layerNormOfResidualMatmul');
  return onCentredSum(p, sum, (c) => normMatmul(p, c, gamma, beta, pl, mm));
}

/** Cost of layerNormOfResidualMatmulTerm with W [n, out] (betaRow false where beta W was kept). */
export function layerNormOfResidualMatmulTermCost(rows: number, n: number, eps: number, out: number, o: NormOptions = {}, fracBits = 18, betaRow = true): Cost {
  return normMatmulTermCost(rows, n, plan(n, eps, fracBits, o), out, betaRow, { fromSum: true });
}

/**
 * LayerNorm(x) W left as this party's masked term for the client (norm-matmul.ts normMatmulTerm), x the residual
 * sum whose term is `sum`. The term stays the caller's, unchanged.
 */
export function layerNormOfResidualMatmulTerm(
  p: Party, sum: SumTerm, gamma: AShare | null, beta: AShare | null, eps: number, mm: NormMatmulTerm, o: NormOptions = {},
): Promise<OutputTerm> {
  const pl = checkedPlan(p, sum, gamma, beta, eps, o, 'layerNormOfResidualMatmulTerm');
  return onCentredSum(p, sum, (c) => normMatmulTerm(p, c, gamma, beta, pl, mm));
}
