/**
 * Piecewise selection with public breakpoints t_1 < ... < t_K: piece k (a share computed by the caller) is
 * the result on [t_k, t_{k+1}) (piece 0 below t_1, piece K from t_K on):
 *   out = P_K - sum_k [x < t_k] (P_k - P_{k-1}).
 * All K comparisons run as one batched narrow comparison (protocol narrowCompare.ts, the 18-bit window of
 * fixedPointWindow: 6 rounds, 59 bits) and one b2a (2 rounds) while the caller's pieces are computed in a
 * parallel branch; then one batched ring product of the 0/1 indicators with the differences (1 round).
 * Rounds: max(8, rounds of the pieces) + 1. Where the extra bytes and CPU cost less than the rounds saved on
 * PUMA's LAN (selectionPlan), the comparisons go by a dealer's tables instead (protocol tableCompare.ts: 2 rounds
 * instead of 6, about 30 more bits per comparison and party, several times the CPU): max(4, rounds of the
 * pieces) + 1 with b2a, max(2, rounds of the pieces) + 2 by bit times value.
 * Pieces ready within 7 rounds select by bit times value instead (protocol bitMul.ts, ABY3 section 5.4's bit
 * injection with the product folded in, 2 rounds that need the pieces): max(6, rounds of the pieces) + 2, the
 * same 9 rounds for pieces of 7 (GeLU's in Z_2^32) and 8 for pieces of 6 or fewer, and 16 bytes per element and
 * breakpoint instead of b2a's 10.7 plus the product's 8 (GeLU: 93.4 -> 88.1 bytes per element). Slower pieces
 * keep the b2a, whose 2 rounds run beside them (bit times value would add a round). selectionByBits decides
 * from the pieces' declared rounds, which the caller passes, so the cost and the run agree.
 * Exact selection: where an indicator is 0 its difference term
 * vanishes in the ring, so garbage in an unselected piece (overflowed powers outside its interval) never
 * reaches the result.
 * Domain (the window's precondition): |x - t_k| < 1024 - 2^-5 for every breakpoint; SELECT_RANGE below
 * states it for callers. Within it, the piece chosen is exact except for x in [t_k, t_k + 2^-6), where the
 * piece below t_k may be chosen instead: callers keep their pieces continuous at the joints (and accurate a
 * little past them) so that this costs no accuracy. Outside it the indicators are arbitrary and so is the
 * result.
 *
 * selectPiecesTimes multiplies the selected piece by a gate u (SwiGLU: silu(x) u) in the same pass:
 *   out = (P_K u - sum_k ([x < t_k] u) (P_k - P_{k-1})) / 2^f.
 * The gate is ready from the start, so each indicator times u is one bit-times-value product (protocol
 * bitMul.ts, ABY3 section 5.4's bit injection with the product folded in: 2 rounds) right after the
 * comparisons, beside the pieces; then every term is one fused product sum with one truncation (2 rounds).
 * Rounds: max(6 + 2, rounds of the pieces) + 2 (selecting and then multiplying by u takes 1 + 2 after the
 * pieces). Bytes: bit times value costs 16 per product (b2a 10.7 plus a selection product 8), and u enters
 * once per element instead of once per piece. The comparisons and their products by u sit on the critical
 * path when the pieces take fewer than 8 rounds (SwiGLU's SiLU: 6): there they compare by a dealer's tables
 * (protocol tableCompare.ts: 2 rounds instead of 6, about 30 more bits per comparison and party, about 200
 * from party 0 below the rotating size, and several times the CPU) while the extra bytes cost less than the
 * rounds saved on PUMA's LAN (LAN_BYTES_PER_ROUND each, the tables' CPU counted as TABLE_COMPARE_LAN_BYTES per
 * comparison; gatedByTables): max(2 + 2, 5) + 2 = 7 rounds instead of 10 for SwiGLU up to about 1,600 gates
 * (stories260K's decoding steps; about 550 before the tables' CPU was re-measured, fixed.ts). Exact selection as above (the garbage terms cancel in the
 * ring before the truncation, whose precondition is on the true sum: |out| < 2^(61 - 2f) in real units);
 * error: the truncation's 1 ulp.
 */
import {
  b2a, b2aCost, concatFlat, fixedPointWindow, lessThanNarrowCost, lessThanPublicNarrow, mulBitMany, mulBitManyCost, mulRaw, mulRawCost, NARROW_BITS, numel, reshape, seq, splitFlat, sub, sameShape,
  type AShare, type BShare, type Cost, type Party,
} from '@puma/protocol';
import { par, TABLE_COMPARE_LAN_BYTES, worthOnLan } from './fixed.ts';
import { mulTruncCost, productSumTrunc } from './fused.ts';

/** |x - t| below which every breakpoint t decides correctly (real units). */
export const SELECT_RANGE = 1024 - 2 ** -5;
/** Width of the band past each breakpoint where the lower piece may be chosen (real units). */
export const SELECT_BAND = 2 ** -6;

/** How selectPieces runs: comparisons by a dealer's tables or by the circuit, selection by bit times value or by b2a. */
export interface SelectionPlan {
  readonly tables: boolean;
  readonly byBits: boolean;
}

/**
 * The selection by bit times value (the comparisons beside the pieces, then bit times value) or by b2a (the
 * comparisons and their b2a beside the pieces, then one ring product); see the header.
 */
function planCost(m: number, pieces: Cost, plan: SelectionPlan): Cost {
  const compare = lessThanNarrowCost(m, { drop: 0, bits: NARROW_BITS, tables: plan.tables });
  return plan.byBits ? seq(par(compare, pieces), mulBitManyCost(m, 1)) : seq(par(seq(compare, b2aCost(m)), pieces), mulRawCost(m));
}

/**
 * Whether the circuit's selection multiplies the comparison bits into the pieces directly: where that takes no
 * more rounds than b2a beside the pieces (pieces of up to 7 rounds), since it always takes fewer bytes (16
 * against 18.7).
 */
export const selectionByBits = (piecesRounds: number): boolean => {
  const pieces: Cost = { rounds: piecesRounds, bytes: [0, 0, 0] };
  return planCost(1, pieces, { tables: false, byBits: true }).rounds <= planCost(1, pieces, { tables: false, byBits: false }).rounds;
};

/**
 * selectPieces' plan for n elements and `breaks` breakpoints beside pieces of `piecesRounds` rounds: the
 * circuit's (selectionByBits), unless comparing by a dealer's tables (2 rounds instead of 6; then b2a, 2 more,
 * can finish beside the pieces and the selection takes 1 round) takes fewer rounds for extra bytes (busiest
 * party) and CPU that cost less than those rounds on PUMA's LAN (tablesPay): GeLU (pieces of 7 rounds) goes from
 * 9 to 8 rounds up to about 1,000 elements, not on GPT-2-base's 3,072 a decoding step. Public sizes only, so every
 * party plans the same.
 */
export function selectionPlan(n: number, breaks: number, piecesRounds: number): SelectionPlan {
  const m = n * breaks;
  const pieces: Cost = { rounds: piecesRounds, bytes: [0, 0, 0] };
  const circuit: SelectionPlan = { tables: false, byBits: selectionByBits(piecesRounds) };
  const base = planCost(m, pieces, circuit);
  let best = circuit;
  let bestRounds = base.rounds;
  for (const byBits of [true, false]) {
    const plan: SelectionPlan = { tables: true, byBits };
    const c = planCost(m, pieces, plan);
    if (c.rounds < bestRounds && tablesPay(m, base, c)) {
      best = plan;
      bestRounds = c.rounds;
    }
  }
  return best;
}

export function selectPiecesCost(n: number, breaks: number, pieces: Cost): Cost {
  return planCost(n * breaks, pieces, selectionPlan(n, breaks, pieces.rounds));
}

/** The gated selection with its comparisons by tables or by the circuit (see the header). */
const gatedCost = (n: number, breaks: number, pieces: Cost, tables: boolean): Cost =>
  seq(par(seq(lessThanNarrowCost(n * breaks, { drop: 0, bits: NARROW_BITS, tables }), mulBitManyCost(n * breaks, 1)), pieces), mulTruncCost(n));

/**
 * Whether selectPiecesTimes compares by tables: where that saves rounds and its extra bytes (busiest party) and
 * CPU cost less than those rounds on PUMA's LAN (tablesPay). Public sizes only, so every party decides the same.
 */
export function gatedByTables(n: number, breaks: number, pieces: Cost): boolean {
  return tablesPay(n * breaks, gatedCost(n, breaks, pieces, false), gatedCost(n, breaks, pieces, true));
}

/**
 * Whether m comparisons by tables (cost `tables`) beat the circuit's plan (cost `circuit`) on PUMA's LAN: fewer
 * rounds, worth more than the extra bytes (busiest party) and the tables' extra CPU (TABLE_COMPARE_LAN_BYTES each).
 */
function tablesPay(m: number, circuit: Cost, tables: Cost): boolean {
  return worthOnLan(circuit.rounds - tables.rounds, Math.max(...tables.bytes) - Math.max(...circuit.bytes) + m * TABLE_COMPARE_LAN_BYTES);
}

export function selectPiecesTimesCost(n: number, breaks: number, pieces: Cost): Cost {
  return gatedCost(n, breaks, pieces, gatedByTables(n, breaks, pieces));
}

/** The comparisons [x < t_k] as one boolean share of K*n bits (block k holds [x < t_k]); by dealer tables with `tables`. */
function bitsBelow(p: Party, x: AShare, breaks: readonly number[], tables = false): Promise<BShare> {
  const n = numel(x);
  const flat = reshape(x, [n]);
  const consts = new Float64Array(n * breaks.length);
  breaks.forEach((t, k) => consts.fill(t, k * n, (k + 1) * n));
  return lessThanPublicNarrow(p, concatFlat(p, breaks.map(() => flat)), consts, { ...fixedPointWindow(p.fracBits), tables });
}

/** The 0/1 indicators [x < t_k] as one arithmetic share of K*n elements (block k holds [x < t_k]). */
async function indicatorsBelow(p: Party, x: AShare, breaks: readonly number[], tables: boolean): Promise<AShare> {
  return b2a(p, await bitsBelow(p, x, breaks, tables));
}

function checkBreaks(breaks: readonly number[], op: string): void {
  for (let k = 1; k < breaks.length; k++) if (!(breaks[k] > breaks[k - 1])) throw new Error(`${op}: breakpoints must increase, got [${breaks.join(', ')}]`);
}

function checkPieces(x: AShare, breaks: readonly number[], ps: readonly AShare[], op: string): void {
  if (ps.length !== breaks.length + 1) throw new Error(`${op}: ${breaks.length} breakpoints need ${breaks.length + 1} pieces, got ${ps.length}`);
  for (const piece of ps) sameShape(x, piece, op);
}

/** `piecesRounds`: the declared rounds of `pieces` (selectPiecesCost's `pieces.rounds`), which pick the plan (selectionPlan). */
export async function selectPieces(p: Party, x: AShare, breaks: readonly number[], pieces: (q: Party) => Promise<AShare[]>, piecesRounds: number): Promise<AShare> {
  checkBreaks(breaks, 'selectPieces');
  const { tables, byBits } = selectionPlan(numel(x), breaks.length, piecesRounds);
  const [below, ps] = await p.parallel((q) => (byBits ? bitsBelow(q, x, breaks, tables) : indicatorsBelow(q, x, breaks, tables)), pieces);
  checkPieces(x, breaks, ps, 'selectPieces');
  const diffs = concatFlat(p, ps.slice(1).map((piece, k) => sub(p, piece, ps[k])));
  const products = below.kind === 'B' ? (await mulBitMany(p, below, [diffs]))[0] : await mulRaw(p, reshape(below, diffs.shape), diffs);
  const terms = splitFlat(p, products, ps.slice(1).map(() => x.shape));
  return terms.reduce((acc, t) => sub(p, acc, t), ps[ps.length - 1]);
}

/**
 * The selected piece times `gate`, pieces at the session's fraction bits (see the header). `piecesCost`: the
 * declared cost of `pieces` (selectPiecesTimesCost's), which decides how the comparisons run.
 */
export async function selectPiecesTimes(p: Party, x: AShare, breaks: readonly number[], gate: AShare, pieces: (q: Party) => Promise<AShare[]>, piecesCost: Cost): Promise<AShare> {
  checkBreaks(breaks, 'selectPiecesTimes');
  sameShape(x, gate, 'selectPiecesTimes');
  const n = numel(x);
  const tables = gatedByTables(n, breaks.length, piecesCost);
  const [gatedBits, ps] = await p.parallel(async (q) => {
    const bits = await bitsBelow(q, x, breaks, tables);
    const flatGate = reshape(gate, [n]);
    const [products] = await mulBitMany(q, bits, [concatFlat(q, breaks.map(() => flatGate))]);
    return products;
  }, pieces);
  checkPieces(x, breaks, ps, 'selectPiecesTimes');
  const below = splitFlat(p, gatedBits, breaks.map(() => x.shape));
  const terms: Array<[AShare, AShare]> = [[ps[ps.length - 1], gate], ...below.map((bu, k): [AShare, AShare] => [bu, sub(p, ps[k], ps[k + 1])])];
  return productSumTrunc(p, terms, p.fracBits);
}
