/**
 * The norms' per-row scale R = C / sqrt(S) for a secret S in [2^lo, 2^hi) (a row's sum of squares plus n eps),
 * selected from lanes that already carry the public factor, so one product with the multiplicand follows:
 *   R = sum_k oh_k L_k,   L_k = phi_k Q(4 c_k - 3),   phi_k = C 2^-(k+1)/2,   c_k = S 2^-(k+1)
 * (oh the one-hot of S's highest set bit, Q the degree-4 minimax fit of 1/sqrt on [0.5, 1) of coefficients.ts).
 * After PUMA (arXiv 2307.12533) section 4: normalise with the highest set bit, polynomial on the normalised
 * value. The lanes (every octave evaluated beside the comparisons) are inverse.ts's; what differs is the
 * selection: the bits pick pre-scaled lanes by bit times value (protocol bitMul.ts, after ABY3 section 5.4's bit
 * injection), so no b2a, no product with a selected phi, no second product with gamma.
 * 1. Comparisons l_j = [S < 2^j - zone] for j = lo..hi-1 (inverse.ts comparisonWindow: the 64-bit msb, 8 rounds
 *    on the norms' ranges, or the narrow window).
 * 2. Beside them (8 rounds): c_k by one truncation, Q_k at Q_SCALE by two levels of products (inverse.ts
 *    laneValues), then L_k = w_k Q_k / 2^t at rScale fraction bits, w_k = round(phi_k 2^z): one truncation per
 *    group of lanes whose phi_k share a scale z (phi spans 2^((hi-lo)/2); a group spans up to 2^24.5).
 * 3. R = L_{hi-1} - l_lo L_lo + sum_{j>lo} l_j (L_{j-1} - L_j): bit times value (2 rounds), summed locally. The
 *    differences telescope exactly in the ring, so the garbage of the lanes outside S's octave (c_k outside
 *    [0.5, 1), out-of-range truncations) is multiplied by exact zeros and cancels.
 * The caller forms m at mScale = 61 - ceil(log2 outBound) - rScale fraction bits and multiplies, y = m R (2
 * rounds), which stays below 2^61 whenever |y| <= outBound.
 * rScale gives the smallest R (at the top octave) R_BITS bits of relative precision.
 * Cost: 10 rounds to R (8 + 2), 12 with the caller's product. Bytes per element of S per lane: a comparison
 * (241 bits on the msb), a lane truncation, two polynomial products, a scale truncation and a bit times value.
 * Error (relative, on R): Q's fit 7.4e-5, about 1e-5 from fixed point, 2^-16 from w_k and from L_k's last bit
 * at the top octave. Asserted: 2e-4 against float64 over [2^-8, 2^26) and [2^-34, 2^26) at 36 fraction bits
 * (measured 8.2e-5). S below 2^lo gives exactly 0; S at or above 2^hi is outside the domain (needs
 * xScale + hi <= 62 so the true lane's c_k does not overflow).
 */
import { concatFlat, lessThanNarrowCost, msbCost, mulBitManyCost, mulPublicRawVec, numel, reshape, seq, sliceFlat, truncate, truncateCost, type AShare, type CompareWindow, type Cost, type Party } from '@puma/protocol';
import { ceilLog2, fixedBig, par } from './fixed.ts';
import { comparisonWindow, laneValues, laneVector, octaveBits, selectLanes } from './inverse.ts';
import { polyCost, POLY_SCALE } from './poly.ts';

/** Relative precision of the smallest R (top octave) at rScale bits. */
const R_BITS = 16;
/** Fraction bits of the lanes' Q in [1, sqrt 2]. */
const Q_SCALE = 20;
/** w_k = round(phi_k 2^z) keeps at least this many bits (rounding below 2^-16 relative). */
const WEIGHT_BITS = 15;

export interface NormScaleOptions {
  /** The domain of S is [2^lo, 2^hi). */
  lo: number;
  hi: number;
  /** Fraction bits of S. */
  xScale: number;
  /** Public factor C of R = C / sqrt(S). */
  constant: number;
  /** Bound on |m R|, the caller's product. */
  outBound: number;
}

interface LaneGroup {
  /** First lane and number of lanes. */
  start: number;
  count: number;
  /** Truncation of w_k Q_k down to rScale. */
  bits: number;
}

export interface NormScalePlan {
  o: NormScaleOptions;
  lanes: number;
  window?: CompareWindow;
  zone: bigint;
  laneBits: number;
  /** Fraction bits of R, and those the caller's multiplicand must carry. */
  rScale: number;
  mScale: number;
  groups: LaneGroup[];
  /** w_k per lane. */
  weights: bigint[];
}

export function normScalePlan(o: NormScaleOptions): NormScalePlan {
  const { lo, hi, xScale, constant: C } = o;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi <= lo) throw new Error(`normScale: range exponents must be integers with lo < hi, got [${lo}, ${hi})`);
  if (lo < -xScale) throw new Error(`normScale: 2^${lo} is below the resolution of ${xScale} fraction bits`);
  if (xScale + hi > 62) throw new Error(`normScale: 2^${hi} at ${xScale} fraction bits does not fit below 2^62`);
  if (!(C > 0) || !(o.outBound > 0)) throw new Error(`normScale: constant and outBound must be positive, got ${C} and ${o.outBound}`);
  const phi = (k: number) => C * 2 ** (-(k + 1) / 2);
  const rScale = Math.ceil(R_BITS - Math.log2(phi(hi - 1)));
  const mScale = 61 - Math.max(0, ceilLog2(o.outBound)) - rScale;
  if (rScale + Math.log2(phi(lo)) + 1 > 60 || mScale < 1) throw new Error(`normScale: R over [2^${lo}, 2^${hi}) with output bound ${o.outBound} does not fit in the ring`);
  const K = hi - lo;
  // Groups from the smallest phi (top lane) down: z gives the group's smallest phi WEIGHT_BITS bits; a lane
  // joins while its w_k Q_k (Q < 1.5) stays below 2^61 at Q_SCALE + z bits.
  const groups: LaneGroup[] = [];
  const weights = new Array<bigint>(K);
  let end = K;
  while (end > 0) {
    const z = Math.max(Math.ceil(WEIGHT_BITS - Math.log2(phi(lo + end - 1))), rScale - Q_SCALE + 1);
    let start = end - 1;
    while (start > 0 && Math.log2(1.5 * phi(lo + start - 1)) + Q_SCALE + z < 61) start--;
    if (Math.log2(1.5 * phi(lo + start)) + Q_SCALE + z >= 61) throw new Error(`normScale: phi(${lo + start}) = ${phi(lo + start)} leaves no headroom in the ring`);
    for (let j = start; j < end; j++) weights[j] = fixedBig(phi(lo + j), z);
    groups.unshift({ start, count: end - start, bits: Q_SCALE + z - rScale });
    end = start;
  }
  return { o, lanes: K, ...comparisonWindow({ signed: false, lo, hi, xScale }), laneBits: Math.max(0, hi + xScale - POLY_SCALE), rScale, mScale, groups, weights };
}

/** Declared cost of R for n values of S. */
export function normScaleCost(n: number, pl: NormScalePlan): Cost {
  const nl = n * pl.lanes;
  const compare = pl.window ? lessThanNarrowCost(nl, pl.window) : msbCost(nl);
  const lanes = seq(...(pl.laneBits > 0 ? [truncateCost(nl)] : []), polyCost(nl, 4), par(...pl.groups.map((g) => truncateCost(g.count * n))));
  return seq(par(compare, lanes), mulBitManyCost(nl));
}

/** R = C / sqrt(S) at pl.rScale fraction bits, one per element of S (same shape). */
export function normScale(p: Party, s: AShare, pl: NormScalePlan): Promise<AShare> {
  const { lo, xScale } = pl.o;
  const n = numel(s);
  const K = pl.lanes;
  const flat = reshape(s, [n]);
  return p.profile('normScale', async () => {
    const [bits, scaled] = await p.parallel(
      (b) => octaveBits(b, flat, { lo, hi: pl.o.hi, xScale, signed: false }, pl),
      async (b) => {
        const q = await laneValues(b, flat, { kind: 'rsqrt', lo, hi: pl.o.hi, signed: false, xScale }, { laneBits: pl.laneBits, qScale: Q_SCALE });
        const parts = await b.parallel(...pl.groups.map((g) => (c: Party) => {
          const w = mulPublicRawVec(c, sliceFlat(c, q, g.start * n, [g.count * n]), laneVector(pl.weights.slice(g.start, g.start + g.count), n));
          return truncate(c, w, g.bits);
        }));
        return concatFlat(b, parts);
      },
    );
    return reshape(await selectLanes(p, bits, scaled, n, K), s.shape);
  });
}
