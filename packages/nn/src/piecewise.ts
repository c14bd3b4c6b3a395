/**
 * Piecewise selection with public breakpoints t_1 < ... < t_K: piece k (a share computed by the caller) is
 * the result on [t_k, t_{k+1}) (piece 0 below t_1, piece K from t_K on):
 *   out = P_K - sum_k [x < t_k] (P_k - P_{k-1}).
 * All K comparisons run as one batched narrow comparison (protocol narrowCompare.ts, the 18-bit window of
 * fixedPointWindow: 6 rounds, 59 bits) and one b2a (2 rounds) while the caller's pieces are computed in a
 * parallel branch; then one batched ring product of the 0/1 indicators with the differences (1 round).
 * Rounds: max(8, rounds of the pieces) + 1. Exact selection: where an indicator is 0 its difference term
 * vanishes in the ring, so garbage in an unselected piece (overflowed powers outside its interval) never
 * reaches the result.
 * Domain (the window's precondition): |x - t_k| < 1024 - 2^-5 for every breakpoint; SELECT_RANGE below
 * states it for callers. Within it, the piece chosen is exact except for x in [t_k, t_k + 2^-6), where the
 * piece below t_k may be chosen instead: callers keep their pieces continuous at the joints (and accurate a
 * little past them) so that this costs no accuracy. Outside it the indicators are arbitrary and so is the
 * result.
 */
import { b2a, b2aCost, concatFlat, fixedPointWindow, lessThanNarrowCost, lessThanPublicNarrow, mulRaw, mulRawCost, NARROW_BITS, numel, reshape, seq, splitFlat, sub, sameShape, type AShare, type Cost, type Party } from '@puma/protocol';
import { par } from './fixed.ts';

/** |x - t| below which every breakpoint t decides correctly (real units). */
export const SELECT_RANGE = 1024 - 2 ** -5;
/** Width of the band past each breakpoint where the lower piece may be chosen (real units). */
export const SELECT_BAND = 2 ** -6;

export function selectPiecesCost(n: number, breaks: number, pieces: Cost): Cost {
  return seq(par(seq(lessThanNarrowCost(n * breaks, { drop: 0, bits: NARROW_BITS }), b2aCost(n * breaks)), pieces), mulRawCost(n * breaks));
}

/** The 0/1 indicators [x < t_k] as one arithmetic share of K*n elements (block k holds [x < t_k]). */
async function indicatorsBelow(p: Party, x: AShare, breaks: readonly number[]): Promise<AShare> {
  const n = numel(x);
  const flat = reshape(x, [n]);
  const consts = new Float64Array(n * breaks.length);
  breaks.forEach((t, k) => consts.fill(t, k * n, (k + 1) * n));
  return b2a(p, await lessThanPublicNarrow(p, concatFlat(p, breaks.map(() => flat)), consts, fixedPointWindow(p.fracBits)));
}

export async function selectPieces(p: Party, x: AShare, breaks: readonly number[], pieces: (q: Party) => Promise<AShare[]>): Promise<AShare> {
  for (let k = 1; k < breaks.length; k++) if (!(breaks[k] > breaks[k - 1])) throw new Error(`selectPieces: breakpoints must increase, got [${breaks.join(', ')}]`);
  const [below, ps] = await p.parallel((q) => indicatorsBelow(q, x, breaks), pieces);
  if (ps.length !== breaks.length + 1) throw new Error(`selectPieces: ${breaks.length} breakpoints need ${breaks.length + 1} pieces, got ${ps.length}`);
  for (const piece of ps) sameShape(x, piece, 'selectPieces');
  const diffs = concatFlat(p, ps.slice(1).map((piece, k) => sub(p, piece, ps[k])));
  const terms = splitFlat(p, await mulRaw(p, reshape(below, diffs.shape), diffs), ps.slice(1).map(() => x.shape));
  return terms.reduce((acc, t) => sub(p, acc, t), ps[ps.length - 1]);
}
