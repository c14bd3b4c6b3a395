/**
 * A norm followed by a matrix product, with the norm's row scale applied after the product (issue 12):
 *   y W = (R (.) m + beta) W = R (.) (m W) + beta W,   m = d gamma,   R = sqrt(n) / sqrt(S + n eps)  (norm.ts)
 * R is one scalar per row, so it commutes with the product: m W is formed while R is still being computed
 * (m's truncation and the matmul, 4 rounds, inside R's 1 + 10), and one product with R per output follows.
 * beta W rides as one more row of the same matmul (beta at m's fraction bits, exact since mBits >= f) and is
 * added to R (.) (m W) before that product's truncation; given a BetaProductStore, the first pass keeps that row
 * (beta and W are weights) and later passes add it without multiplying it again. The schedule is this package's; the norm is PUMA's
 * (arXiv 2307.12533, section 4).
 * Scales (f the session's fraction bits, W at f): R at rScale (norm-scale.ts), m at mBits, z = m W truncated to
 * zBits, then y W = (R z + beta W 2^rScale) / 2^(rScale + zBits - f). With B = matmulBound on |y W| and on
 * |(y - beta) W| (so |beta W| <= 2B):
 *   zBits = 61 - ceil(log2 B) - rScale          (R z + beta W below 2^61 at rScale + zBits),
 *   mBits = zBits + 16 - f  (capped at dBits + f - 1)  (|z| <= B / R_min and R_min 2^rScale >= 2^16, so the
 *   untruncated m W stays below 2^61 at mBits + f; beta W's row below 2^62 needs rScale >= 17).
 * Cost: S's reshare and R (1 + 10 rounds) beside m (2) and the matmul of rows + 1 rows (2), then one product
 * of rows x out (2): 13 rounds after d, against norm.ts's 13 (or 11 for small shapes) plus the matmul's 2; on a
 * published window of up to 10 octaves of S, S and R take 5: 7 after d (norm-matmul.test.ts). Bytes:
 * a product per output (rows x out) instead of per input (rows x n), and the beta row of the matmul. With keepY
 * (post-norm models, whose residual goes on from y) y = R m + beta as well, in the same round.
 * Error: as the norm's (R relative 2e-4 asserted in norm-scale.ts), plus m's truncation at mBits carried through
 * W (about sqrt(n) |W| 2^-mBits R) and z's last bit (R 2^-zBits). Asserted against float64: 5e-3 on y W for
 * row std (RMS) 0.05 to 50, |gamma| <= 2, |beta| <= 1, |W| <= 0.25, n = 48 and 64 (measured 2.1e-4 to 4.1e-4,
 * within 4e-6 of the norm then the matmul).
 * Without gamma (the owner folded it into W: norm.ts noScale) m is d at mBitsFor(plan, mBits), so the matmul
 * truncates from dBits + f bits; the untruncated d W stays below m W's bound since dBits <= mBits there.
 * Rows too narrow for these scales (mBits < f: a residual sum's d at f - e bits and n below about 48, so R needs
 * 30 fraction bits) take the norm and then the product, unfused.
 * Domain: the norm's (norm.ts), and |y W|, |(y - beta) W| <= matmulBound (default 2^12, the norm's outBound;
 * the owner's domain check probes it as 'norm matmul output').
 * A term at fixed fraction bits (normTermPlan: RoPE rotates the qkv product's 3-of-3 term at 2f bits,
 * models rope-qkv.ts): R z lands at rScale + zBits = termBits, so R and z share termBits. R's relative precision
 * at its smallest (rScale + log2 R_min) is balanced against z's last bit times the largest R (zBits - log2 R_max):
 *   rScale = floor((termBits - log2 R_min - log2 R_max) / 2),   R_min = C 2^(-hi/2),  R_max = C 2^(-lo/2),
 * each side keeping about (termBits - (hi - lo) / 2) / 2 bits (the floor may cost one side half a bit), at least
 * TERM_PRECISION_BITS (else the norm and then the product: the plan is null). For norms without a beta row
 * (RMSNorm): rScale may fall below the 17 bits a beta W row needs. m keeps its f bits (mBits >= f) while the
 * untruncated m W, below B / R_min, stays under 2^61. At 2f = 36 bits a published window of up to 23 or 24
 * octaves of S fuses (stories260K's norms span 19: 13 bits for R and 13.5 for z, against 16 for R and 18 for the
 * result unfused). Cost: normMatmulTermCost, 5 rounds on such a window, where the norm then the matmul's term
 * take 7. Error asserted in norm-matmul.test.ts.
 * A residual sum given as its term (norm.ts NormInput's SumTerm: base 2^f plus a product's term for RMSNorm, d =
 * x at f; a LayerNorm's centred sum, layernorm-residual.ts, d = odd (x - mean) at the plan's dBits) is truncated
 * to d here by protocol truncateSquares, whose first round also gives the rows' sums of squares: R starts from
 * them while the second round replicates d, so the norm ends 1 round after the truncation's first instead of
 * after both (6 rounds from the product to R on a window, against 7). Bytes: two words more per element from
 * each chunk's dealer. Error: the truncation's, as before (d is the same value). The unfused paths take the
 * norm from the squares too (norm.ts normTailOfSum).
 */
import {
  broadcastLast, concatFlat, matmulCost, mulPublicInt, reshape, seq, sliceFlat, tileLeading, truncateCloseSquares,
  truncateSquaresCloseCost, truncateSquaresOpenCost, type AShare, type Cost, type OutputTerm, type Party,
} from '@puma/protocol';
import { ceilLog2, par, ZERO_COST } from './fixed.ts';
import { mulTrunc, mulTruncCost, productSumOutTerm, productSumTrunc } from './fused.ts';
import {
  formM, formMCost, isSumTerm, mBitsFor, normPlan, normTail, normTailCost, normTailOfSum, normTailOfSumCost, openSumSquares, plusBeta,
  type NormInput, type NormOptions, type NormPlan,
} from './norm.ts';
import { normScaleOfSquares, normScaleOfSquaresCost, normScaleOfSquaresTerm } from './norm-scale.ts';

/** Default bound on |y W| and |(y - beta) W|. */
export const NORM_MATMUL_BOUND = 2 ** 12;

/** The product that follows the norm. */
export interface NormMatmul {
  /** m W / 2^bits for m [r, n] (W [n, out] at the session's fraction bits): the caller's weight. */
  matmul: (q: Party, m: AShare, bits: number) => Promise<AShare>;
  /** Columns of W. */
  out: number;
  /** Also return y itself (post-norm models keep it as the residual). */
  keepY?: boolean;
  /** Bound on |y W| and |(y - beta) W| (default NORM_MATMUL_BOUND). */
  matmulBound?: number;
  /** Where beta W is kept between passes (BetaProductStore); without it every pass multiplies the beta row. */
  betaProduct?: BetaProductStore;
}

/**
 * beta W kept from an earlier pass of the same norm and weight (models keeps one per norm for a job): beta and
 * W are weights, so beta W is the same in every pass, and a pass that finds it multiplies no beta row (out
 * products and their truncation fewer: for a generated GPT-2 token, rows = 1, half of each fed matmul's).
 */
export interface BetaProductStore {
  /** beta W [out] at zBits fraction bits, if an earlier pass kept it. */
  get(zBits: number): AShare | undefined;
  keep(zBits: number, betaW: AShare): void;
}

export interface NormMatmulPlan {
  mBits: number;
  zBits: number;
}

/** m's and m W's fraction bits, or null when R's scale leaves m fewer than f bits (narrow rows of a residual sum). */
export function normMatmulPlan(plan: NormPlan, matmulBound = NORM_MATMUL_BOUND): NormMatmulPlan | null {
  const f = plan.fracBits;
  const { rScale } = plan.scale;
  if (!(matmulBound > 0) || !Number.isFinite(matmulBound)) throw new Error(`norm matmul: the product's bound must be a positive finite number, got ${matmulBound}`);
  const zBits = 61 - Math.max(0, ceilLog2(matmulBound)) - rScale;
  const mBits = Math.min(zBits + 16 - f, plan.dBits + f - 1);
  return rScale >= 17 && mBits >= f && zBits >= 1 ? { mBits, zBits } : null;
}

/** Fewest bits of precision each side of a fixed-scale term keeps (normTermPlan: R relative, z's last bit times R_max). */
export const TERM_PRECISION_BITS = 12;

/** A norm planned for a product term at fixed fraction bits: its plan (R's bits fixed where fused) and the fused scales, or null. */
export interface NormTermPlan {
  plan: NormPlan;
  fused: NormMatmulPlan | null;
}

/**
 * The norm of rows of width n planned so that normMatmulTerm's term lands at termBits fraction bits (the
 * header's balance), or the norm's own plan and null where the window is too wide for both sides to keep
 * TERM_PRECISION_BITS: then the norm runs on its own and the product's term (at termBits, the caller's) follows.
 */
export function normTermPlan(n: number, eps: number, fracBits: number, o: NormOptions, termBits: number, matmulBound = NORM_MATMUL_BOUND): NormTermPlan {
  const own = normPlan(n, eps, fracBits, o);
  if (!Number.isInteger(termBits) || termBits < fracBits || termBits + Math.max(0, ceilLog2(matmulBound)) > 61) {
    throw new Error(`norm term: ${termBits} fraction bits for products up to ${matmulBound} do not fit below 2^61 (or are below the session's ${fracBits})`);
  }
  const { lo, hi, constant } = own.scale.o;
  const logRmin = Math.log2(constant) - hi / 2;
  const logRmax = Math.log2(constant) - lo / 2;
  const rScale = Math.min(own.scale.rScale, Math.floor((termBits - logRmin - logRmax) / 2));
  const zBits = termBits - rScale;
  const mBits = Math.min(own.dBits + fracBits - 1, Math.floor(61 - fracBits - (ceilLog2(matmulBound) - logRmin)));
  const precise = rScale + logRmin >= TERM_PRECISION_BITS && zBits - logRmax >= TERM_PRECISION_BITS;
  if (!precise || rScale < 1 || mBits < fracBits || zBits >= mBitsFor(own, mBits) + fracBits) return { plan: own, fused: null };
  return { plan: normPlan(n, eps, fracBits, { ...o, rScale }, own.dBits), fused: { mBits, zBits } };
}

/** How a norm-matmul's cost is taken beyond its shape: the product's bound, scales fixed by normTermPlan, x a sum's term. */
export interface NormTermCostOptions {
  /** Bound on |y W| (default NORM_MATMUL_BOUND). */
  matmulBound?: number;
  /** The scales normTermPlan fixed (null: unfused); default normMatmulPlan's. */
  fused?: NormMatmulPlan | null;
  /** x is a residual sum's term (NormInput), truncated with its squares. */
  fromSum?: boolean;
}

/**
 * Cost of normMatmul after d: rows of width n, out columns, with a beta row or not, y kept or not. Where
 * normMatmulPlan gives null: the norm (norm.ts's tail) and then the product.
 */
export function normMatmulCost(rows: number, n: number, plan: NormPlan, out: number, beta: boolean, keepY = false, o: NormTermCostOptions = {}): Cost {
  const upToProduct = normMatmulTermCost(rows, n, plan, out, beta, o);
  // The last product's truncation (the unfused path's matmul, the fused path's R (m W)), and R m beside it with keepY.
  const fusedKeepY = keepY && normMatmulPlan(plan, o.matmulBound) !== null;
  return seq(upToProduct, par(mulTruncCost(rows * out), fusedKeepY ? mulTruncCost(rows * n) : ZERO_COST));
}

/**
 * normMatmulTerm's cost, which is normMatmul's up to its last product: R (S's reshare and the row scale) beside
 * m and z = m W (with the beta row, where there is one); unfused, the norm's tail (its product is then local).
 */
export function normMatmulTermCost(rows: number, n: number, plan: NormPlan, out: number, beta: boolean, o: NormTermCostOptions = {}): Cost {
  const { fromSum = false } = o;
  const mp = o.fused === undefined ? normMatmulPlan(plan, o.matmulBound) : o.fused;
  if (!mp) return fromSum ? normTailOfSumCost(rows, n, plan) : normTailCost(rows, n, plan);
  const sumOpen = fromSum ? truncateSquaresOpenCost(rows * n) : ZERO_COST;
  const sumClose = fromSum ? truncateSquaresCloseCost(rows * n) : ZERO_COST;
  const r = normScaleOfSquaresCost(rows, plan.scale);
  return seq(sumOpen, par(r, seq(sumClose, formMCost(rows, n, plan, mp.mBits), matmulCost((rows + (beta ? 1 : 0)) * out))));
}

/** The norm alone (norm.ts's tail; on a sum's term from its squares), for the unfused paths. */
async function unfusedTail(p: Party, input: NormInput, gamma: AShare | null, plan: NormPlan): Promise<{ y: AShare; d: AShare }> {
  if (isSumTerm(input)) return normTailOfSum(p, input, gamma, plan);
  return { y: await normTail(p, input, gamma, plan), d: input };
}

/** R (one per row), m = d gamma at mBits (d itself at mBitsFor without gamma), and z = m W at zBits with beta W's row split off at rScale + zBits. */
interface ScaledProduct {
  d: AShare;
  r: AShare;
  m: AShare;
  mBits: number;
  zRows: AShare;
  betaW: AShare | undefined;
}

/** normMatmul up to its last product: R beside m and z = m W (the plan's scales, mp). */
async function scaledProduct(p: Party, input: NormInput, gamma: AShare | null, beta: AShare | null, plan: NormPlan, mp: NormMatmulPlan, mm: NormMatmul): Promise<ScaledProduct> {
  const n = input.shape[input.shape.length - 1];
  const rows = input.shape.reduce((a, b) => a * b, 1) / n;
  const f = plan.fracBits;
  const { zBits } = mp;
  const mBits = mBitsFor(plan, mp.mBits);
  if (!plan.scaled && beta) throw new Error('norm matmul: a norm without gamma has its beta folded into the product too');
  const kept = beta && mm.betaProduct ? mm.betaProduct.get(zBits) : undefined;
  const betaRow = beta !== null && kept === undefined;
  const opened = isSumTerm(input) ? await openSumSquares(p, input, plan) : null;
  const [r, mz] = await p.parallel(
    (b) => (opened ? normScaleOfSquaresTerm(b, opened.squares, plan.epsRaw, plan.scale) : normScaleOfSquares(b, input as AShare, plan.epsRaw, plan.scale)),
    async (b) => {
      const d = opened ? await truncateCloseSquares(b, opened) : (input as AShare);
      const m = reshape(await formM(b, d, gamma, plan, mp.mBits), [rows, n]);
      const factor = betaRow ? reshape(concatFlat(b, [m, mulPublicInt(b, beta, 2n ** BigInt(mBits - f))]), [rows + 1, n]) : m;
      const z = await mm.matmul(b, factor, mBits + f - zBits);
      if (z.shape.length !== 2 || z.shape[0] !== rows + (betaRow ? 1 : 0) || z.shape[1] !== mm.out) {
        throw new Error(`norm matmul: the product has shape [${z.shape.join(', ')}], expected [${rows + (betaRow ? 1 : 0)}, ${mm.out}]`);
      }
      return { d, m, z };
    },
  );
  const { d, m, z } = mz;
  const out = mm.out;
  const zRows = sliceFlat(p, z, 0, [rows, out]);
  const bw = betaRow ? sliceFlat(p, z, rows * out, [out]) : kept;
  if (betaRow && mm.betaProduct) mm.betaProduct.keep(zBits, bw as AShare);
  const betaW = bw ? mulPublicInt(p, reshape(tileLeading(p, bw, rows), [rows, out]), 2n ** BigInt(plan.scale.rScale)) : undefined;
  return { d, r, m, mBits, zRows, betaW };
}

/** (d gamma R + beta) W for d [rows, n] at plan.dBits; y = d gamma R + beta as well when mm.keepY (gamma or beta null: none). */
export async function normMatmul(p: Party, input: NormInput, gamma: AShare | null, beta: AShare | null, plan: NormPlan, mm: NormMatmul): Promise<{ y: AShare | null; yw: AShare; d: AShare }> {
  const n = input.shape[input.shape.length - 1];
  const rows = input.shape.reduce((a, b) => a * b, 1) / n;
  const f = plan.fracBits;
  const { rScale } = plan.scale;
  const mp = normMatmulPlan(plan, mm.matmulBound);
  if (!mp) {
    const { y: tail, d } = await unfusedTail(p, input, gamma, plan);
    const y = plusBeta(p, tail, beta);
    return { y: mm.keepY ? y : null, yw: await mm.matmul(p, reshape(y, [rows, n]), f), d };
  }
  const { zBits } = mp;
  const { d, r, m, mBits, zRows, betaW } = await scaledProduct(p, input, gamma, beta, plan, mp, mm);
  const out = mm.out;
  const [yw, y] = await p.parallel(
    (b) => productSumTrunc(b, [[broadcastLast(b, r, out), zRows]], rScale + zBits - f, betaW),
    async (b) => {
      if (!mm.keepY) return null;
      const ym = await mulTrunc(b, m, broadcastLast(b, r, n), mBits + rScale - f);
      return plusBeta(b, ym, beta);
    },
  );
  return { y: y && reshape(y, d.shape), yw, d };
}

/** A norm feeding a product whose result goes to the client: the product's masked term (normMatmulTerm). */
export interface NormMatmulTerm extends NormMatmul {
  /** This party's masked term of y W (W at f), for rows too narrow to fuse (normMatmulPlan null). */
  matmulTerm: (q: Party, y: AShare) => Promise<OutputTerm>;
}

/**
 * normMatmul whose last product is left untruncated (issue 12: the truncation folded into the reveal): this
 * party's masked 3-of-3 term of (d gamma R + beta) W at rScale + zBits fraction bits, for revealTermToClient
 * or a local linear map and a truncation (RoPE). y is not kept. fused: the scales (normTermPlan's), where the
 * caller fixed the term's bits; default normMatmulPlan's. Cost: normMatmulTermCost (normMatmulCost less the
 * last product's 2 rounds and its truncation).
 */
export async function normMatmulTerm(p: Party, input: NormInput, gamma: AShare | null, beta: AShare | null, plan: NormPlan, mm: NormMatmulTerm, fused?: NormMatmulPlan | null): Promise<OutputTerm & { d: AShare }> {
  if (mm.keepY) throw new Error('norm matmul term: y cannot be kept beside a term for the client');
  const n = input.shape[input.shape.length - 1];
  const rows = input.shape.reduce((a, b) => a * b, 1) / n;
  const mp = fused === undefined ? normMatmulPlan(plan, mm.matmulBound) : fused;
  if (!mp) {
    const { y: tail, d } = await unfusedTail(p, input, gamma, plan);
    return { ...(await mm.matmulTerm(p, reshape(plusBeta(p, tail, beta), [rows, n]))), d };
  }
  const { d, r, zRows, betaW } = await scaledProduct(p, input, gamma, beta, plan, mp, mm);
  return { ...productSumOutTerm(p, [[broadcastLast(p, r, mm.out), zRows]], plan.scale.rScale + mp.zBits, betaW), d };
}
