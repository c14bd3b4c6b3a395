/**
 * m * x^(-1) and m * x^(-1/2) for a secret x whose magnitude lies in [2^lo, 2^hi): the shared core of
 * reciprocal, division, rsqrt, sqrt, softmax's denominator and the norms' 1/std. After PUMA section 4
 * (normalise with the highest set bit, polynomial initial approximation) but restructured for fewer rounds.
 *
 * 1. Range bits (8 + 2 rounds): l_j = [x < 2^j] for j = lo..hi-1 (and g_j = [x > -2^j] when signed) in one
 *    batched comparison, then one b2a. The one-hot of the highest set bit k is oh_k = l_{k+1} - l_k (l_hi = 1),
 *    so ANY public function of k, phi(k), is a public-weighted sum of the l_j: free. This gives
 *      s = 2^-(k+1)  (exact)  and  phi(k) = C 2^-(k+1) (reciprocal) or C 2^-(k+1)/2 (rsqrt)
 *    with a public constant C folded in (LayerNorm folds sqrt(n) here). For signed x the negative one-hot
 *    (from the g_j) enters with a minus sign, so s and phi carry the sign of x and c below stays positive.
 * 2. c = x s in [0.5, 1) (2 rounds); in a parallel branch F = m phi (2 rounds), or F = phi without m, or
 *    F = (m phi) g (4 rounds, still hidden): the norms pass m = d and g = gamma, so that d phi, about the
 *    normalised value, is formed at high precision before gamma scales it.
 * 3. Q(v) ~ 1/c or 1/sqrt(c), degree-4 minimax in v = 4c - 3 (coefficients.ts): 2 levels, 4 rounds.
 * 4. result = F Q (2 rounds): m / x = m 2^-(k+1) / c, m / sqrt(x) = m 2^-(k+1)/2 / sqrt(c).
 * Total 18 rounds whatever the range. Bytes: per element of x, (hi - lo) comparisons (x2 signed) at 241 bits
 * and as many b2a words (2 for party 0), plus mulTrunc's [4, 2, 2] words for c, the two polynomial levels
 * and, per element of m (or of x), F and the result.
 * Error: Q's relative error (2.97e-4 reciprocal, 7.4e-5 rsqrt in float64), plus about 1e-5 relative from
 * fixed-point evaluation, plus 1 ulp of the output. |x| below 2^lo gives exactly 0 (every one-hot entry is 0); |x| at or
 * above 2^hi is outside the domain (c >= 1; garbage once |x| >= 2^(hi+1)).
 */
import { addPublicRaw, b2a, b2aCost, broadcastLast, concatFlat, msb, msbCost, mulPublicInt, mulPublicRawVec, neg, numel, reshape, sameShape, seq, sumLast, transpose, type AShare, type Cost, type Party } from '@puma/protocol';
import { RECIPROCAL, RSQRT } from './coefficients.ts';
import { mulTrunc, mulTruncCost } from './fused.ts';
import { ceilLog2, fixedBig, par } from './fixed.ts';
import { POLY_SCALE, polyCost, polyEval } from './poly.ts';

export type InverseKind = 'reciprocal' | 'rsqrt';

/** Fraction bits of Q: relative precision 2^-22, well below Q's approximation error. */
const Q_SCALE = 22;
/** Largest tolerated relative rounding of the public weights phi(k). */
const MAX_WEIGHT_ERROR = 2 ** -18;

export interface Multiplicand {
  m: AShare;
  /** m has one more (last) axis than x; x's value applies to every entry of that row. */
  broadcast: boolean;
  /** A second factor of m's shape, applied after m phi (needs `gScale`): result g m x^-power. */
  g?: AShare;
}

export interface InverseOptions {
  kind: InverseKind;
  /** The domain of |x| is [2^lo, 2^hi). */
  lo: number;
  hi: number;
  /** Handle both signs (reciprocal only); doubles the comparisons. */
  signed: boolean;
  /** Fraction bits of x. */
  xScale: number;
  /** Public factor folded into the result (default 1). */
  constant?: number;
  /** Fraction bits of the multiplicand m, when the result is m x^-power (absent: x^-power alone). */
  mScale?: number;
  /** Bound on |m phi| (default outBound, right when there is no g since Q >= 1). */
  mPhiBound?: number;
  /** Fraction bits of the second factor g, when there is one. */
  gScale?: number;
  /** Fraction bits of the result. */
  outScale: number;
  /** Bound on |result|, for overflow planning (a power of two is rounded up from it). */
  outBound: number;
}

interface Plan {
  bitsPerElement: number;
  phiScale: number;
  /** Truncations of m phi and of (m phi) g (0 when there is no g). */
  mBits: number;
  gBits: number;
  finalBits: number;
}

function plan(o: InverseOptions): Plan {
  const { lo, hi, xScale, kind } = o;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi <= lo) throw new Error(`inverse: range exponents must be integers with lo < hi, got [${lo}, ${hi})`);
  if (lo < -xScale) throw new Error(`inverse: 2^${lo} is below the resolution of ${xScale} fraction bits`);
  if (xScale + hi > 60) throw new Error(`inverse: 2^${hi} at ${xScale} fraction bits leaves no room for normalisation`);
  if (o.signed && kind !== 'reciprocal') throw new Error('inverse: only the reciprocal takes signed input');
  if (!(o.outBound > 0)) throw new Error(`inverse: outBound must be positive, got ${o.outBound}`);
  const b = Math.max(0, ceilLog2(o.outBound));
  const finalScale = 60 - b - Q_SCALE;
  let phiScale = finalScale;
  let mBits = 0;
  let gBits = 0;
  if (o.mScale !== undefined) {
    // m phi, then (m phi) g, each product kept below 2^60 before its truncation; the last lands at finalScale.
    phiScale = 60 - o.mScale - Math.max(0, ceilLog2(o.mPhiBound ?? o.outBound));
    const mPhiScale = o.gScale !== undefined ? 60 - b - o.gScale : finalScale;
    mBits = o.mScale + phiScale - mPhiScale;
    if (o.gScale !== undefined) gBits = mPhiScale + o.gScale - finalScale;
    if (mBits < 1 || (o.gScale !== undefined && gBits < 1)) throw new Error('inverse: multiplicand scales leave no bits to truncate');
  } else if (o.gScale !== undefined) throw new Error('inverse: a second factor needs a multiplicand');
  const finalBits = finalScale + Q_SCALE - o.outScale;
  if (phiScale < 1 || finalBits < 1) throw new Error(`inverse: output bound 2^${b} and ${o.outScale} output fraction bits do not fit in the ring`);
  return { bitsPerElement: (hi - lo) * (o.signed ? 2 : 1), phiScale, mBits, gBits, finalBits };
}

/** Declared cost for n elements of x and, with a multiplicand, mCount elements of m. */
export function inverseCost(n: number, o: InverseOptions, mCount = n): Cost {
  const pl = plan(o);
  const nb = n * pl.bitsPerElement;
  const nm = o.mScale !== undefined ? mCount : n;
  const chain = seq(mulTruncCost(n), polyCost(n, 4));
  const fBranch = o.gScale !== undefined ? seq(mulTruncCost(nm), mulTruncCost(nm)) : mulTruncCost(nm);
  const branches = o.mScale !== undefined ? par(chain, fBranch) : chain;
  return seq(msbCost(nb), b2aCost(nb), branches, mulTruncCost(nm));
}

/** Public integers round(phi(k) 2^scale) for k = lo..hi-1 (exact for powers of two). */
function weights(lo: number, hi: number, scale: number, phi: (k: number) => number): bigint[] {
  const out: bigint[] = [];
  for (let k = lo; k < hi; k++) {
    const exact = phi(k) * 2 ** scale;
    if (Math.abs(exact) < 2 ** 52 && Math.abs(Math.round(exact) - exact) > MAX_WEIGHT_ERROR * Math.abs(exact)) {
      throw new Error(`inverse: range [2^${lo}, 2^${hi}) too wide for ${scale}-bit weights (phi(${k}) = ${phi(k)})`);
    }
    if (Math.abs(exact) >= 2 ** 61) throw new Error(`inverse: weight phi(${k}) 2^${scale} = ${exact} leaves no headroom in the ring`);
    out.push(BigInt.asIntN(64, fixedBig(phi(k), scale)));
  }
  return out;
}

/**
 * sum_k oh_k Phi(k) from the range bits: Phi(hi-1) - l_lo Phi(lo) + sum_{j>lo} l_j (Phi(j-1) - Phi(j)).
 * `bits` is [blocks, n] (block b holds the indicator of threshold lo + b, then the negated ones when signed).
 */
function combine(p: Party, bits: AShare, n: number, lo: number, hi: number, signed: boolean, W: bigint[], shape: readonly number[]): AShare {
  const K = hi - lo;
  const blockWeight = (j: number): bigint => (j === 0 ? -W[0] : W[j - 1] - W[j]);
  const vec = new BigUint64Array(bits.s0.length);
  for (let j = 0; j < K; j++) {
    vec.fill(BigInt.asUintN(64, blockWeight(j)), j * n, (j + 1) * n);
    if (signed) vec.fill(BigInt.asUintN(64, -blockWeight(j)), (K + j) * n, (K + j + 1) * n);
  }
  const blocks = signed ? 2 * K : K;
  const weighted = transpose(p, reshape(mulPublicRawVec(p, bits, vec), [blocks, n]), [1, 0]);
  const sum = reshape(sumLast(p, weighted), shape);
  // The constants Phi(hi-1) of the positive and the negated negative one-hot cancel when signed.
  return signed ? sum : addPublicRaw(p, sum, BigInt.asUintN(64, W[K - 1]));
}

export async function inverse(p: Party, x: AShare, o: InverseOptions, mult?: Multiplicand): Promise<AShare> {
  const pl = plan(o);
  const { lo, hi, xScale, signed } = o;
  const n = numel(x);
  if ((mult === undefined) !== (o.mScale === undefined)) throw new Error('inverse: pass a multiplicand exactly when mScale is set');
  if ((mult?.g === undefined) !== (o.gScale === undefined)) throw new Error('inverse: pass a second factor exactly when gScale is set');
  if (mult?.g) sameShape(mult.m, mult.g, 'inverse');
  if (mult) {
    const want = mult.broadcast ? x.shape.length + 1 : x.shape.length;
    const ok = mult.m.shape.length === want && x.shape.every((d, i) => d === mult.m.shape[i]);
    if (!ok) throw new Error(`inverse: multiplicand of shape [${mult.m.shape.join(', ')}] does not match [${x.shape.join(', ')}]${mult.broadcast ? ' plus a last axis' : ''}`);
  }
  const C = o.constant ?? 1;
  const half = o.kind === 'rsqrt';
  const sScale = 60 - xScale;
  const sW = weights(lo, hi, sScale, (k) => 2 ** -(k + 1));
  const phiW = weights(lo, hi, pl.phiScale, (k) => C * 2 ** (half ? -(k + 1) / 2 : -(k + 1)));
  const flat = reshape(x, [n]);
  // 1. range bits: x - 2^j (and -x - 2^j) for every threshold, one msb, one b2a.
  const K = hi - lo;
  const parts = Array.from({ length: K }, () => flat);
  if (signed) parts.push(...Array.from({ length: K }, () => neg(p, flat)));
  const shift = new BigUint64Array(parts.length * n);
  for (let b = 0; b < parts.length; b++) shift.fill(BigInt.asUintN(64, -(1n << BigInt(lo + (b % K) + xScale))), b * n, (b + 1) * n);
  const bits = await b2a(p, await msb(p, addPublicRaw(p, concatFlat(p, parts), shift)));
  const s = combine(p, bits, n, lo, hi, signed, sW, x.shape);
  const phi = combine(p, bits, n, lo, hi, signed, phiW, x.shape);
  // 2-3. c and Q on one branch, F = m phi on the other.
  const [q, f] = await p.parallel(
    async (b) => {
      const c = await mulTrunc(b, x, s, xScale + sScale - POLY_SCALE);
      const v = addPublicRaw(b, mulPublicInt(b, c, 4), BigInt.asUintN(64, -(3n << BigInt(POLY_SCALE))));
      const [qv] = await polyEval(b, v, [o.kind === 'rsqrt' ? RSQRT.coeffs : RECIPROCAL.coeffs], { bound: 1, outScale: Q_SCALE });
      return qv;
    },
    async (b) => {
      if (!mult) return phi;
      const mPhi = await mulTrunc(b, mult.m, mult.broadcast ? broadcastLast(b, phi, mult.m.shape[mult.m.shape.length - 1]) : phi, pl.mBits);
      return mult.g ? mulTrunc(b, mPhi, mult.g, pl.gBits) : mPhi;
    },
  );
  // 4. result = F Q.
  const qb = mult?.broadcast ? broadcastLast(p, q, mult.m.shape[mult.m.shape.length - 1]) : q;
  return mulTrunc(p, f, qb, pl.finalBits);
}
